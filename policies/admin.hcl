# admin: operates the Vault server. Modelled on the admin persona of HashiCorp's
# policy guide: health, auth methods, policies, secrets engines, leases, audit.

# Health and seal status
path "sys/health" {
  capabilities = ["read", "sudo"]
}

# ACL policies
path "sys/policies/acl" {
  capabilities = ["list"]
}
path "sys/policies/acl/*" {
  capabilities = ["create", "read", "update", "delete", "list", "sudo"]
}

# Auth methods: enable, tune, configure, manage roles and tokens
path "auth/*" {
  capabilities = ["create", "read", "update", "delete", "list", "sudo"]
}
path "sys/auth/*" {
  capabilities = ["create", "update", "delete", "sudo"]
}
path "sys/auth" {
  capabilities = ["read"]
}

# Secrets engines
path "sys/mounts/*" {
  capabilities = ["create", "read", "update", "delete", "list", "sudo"]
}
path "sys/mounts" {
  capabilities = ["read"]
}

# Leases
path "sys/leases/*" {
  capabilities = ["create", "read", "update", "delete", "list", "sudo"]
}

# Audit devices
path "sys/audit" {
  capabilities = ["read", "sudo"]
}
path "sys/audit/*" {
  capabilities = ["create", "read", "update", "delete", "list", "sudo"]
}

# Capabilities checks for troubleshooting
path "sys/capabilities" {
  capabilities = ["create", "update"]
}
path "sys/capabilities-self" {
  capabilities = ["create", "update"]
}
