# Auto-unseal with Cloud KMS: the server wraps its root key with this key, so no unseal key exists
# anywhere and sys/init returns recovery keys (the sidecar stores them in Secret Manager).
# Credentials: Workload Identity (the same Google service account as the sidecar; see
# k8s/README.md, "Cloud KMS auto-unseal"), which needs cloudkms.cryptoKeys.get and the
# useToEncrypt / useToDecrypt permissions on this key. No GCP KMS emulator exists here: this
# stanza is checked by API-server dry-run and schema only, never by a running server.
seal "gcpckms" {
  project    = "my-project"
  region     = "europe-west1"
  key_ring   = "openbao"
  crypto_key = "openbao-unseal"
}
