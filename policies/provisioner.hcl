# provisioner: configures tenants. Modelled on the provisioner persona of HashiCorp's
# policy guide: auth methods and their roles, policies, secrets engines. No seal or
# unseal, no raw storage, no audit, no other sys/ path.

# Auth methods and their roles (this includes auth/token/create/provisioner, through
# which vault-bootstrap rotates the provisioner token after the root token is revoked)
path "auth/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "sys/auth/*" {
  capabilities = ["create", "update", "delete", "sudo"]
}
path "sys/auth" {
  capabilities = ["read"]
}

# ACL policies
path "sys/policies/acl" {
  capabilities = ["list"]
}
path "sys/policies/acl/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

# Secrets engines
path "sys/mounts/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "sys/mounts" {
  capabilities = ["read"]
}
