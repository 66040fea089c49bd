# Auto-unseal with AWS KMS: the server wraps its root key with this key, so no unseal key exists
# anywhere and sys/init returns recovery keys (the sidecar stores them in Secrets Manager).
# Credentials: the pod's IRSA role (the same service account as the sidecar; see k8s/README.md,
# "Cloud KMS auto-unseal"), which needs kms:DescribeKey, kms:Encrypt and kms:Decrypt on this key.
seal "awskms" {
  region     = "eu-west-1"
  kms_key_id = "alias/openbao-unseal"
}
