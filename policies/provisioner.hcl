# provisioner: configures tenants; the policy of the CI token. Modelled on the provisioner
# persona of HashiCorp's policy guide: auth methods and their roles, policies, secrets engines.
# No seal or unseal, no raw storage, no audit, no other sys/ path.
#
# It can never widen its own power: the deny rules below name exact paths, and in Vault's ACL
# an exact path beats a glob (and deny beats everything on the same path). What it can still
# do is README's "Policies": any identity that may write policies and bind them to an auth
# method's roles can grant itself a new policy that way. For a provisioner confined to a name
# prefix, see policies/scoped/provisioner.hcl.

# Auth methods and their roles
path "auth/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "sys/auth/*" {
  capabilities = ["create", "update", "delete", "sudo"]
}
path "sys/auth" {
  capabilities = ["read"]
}

# The token auth method is not a tenant's: no token roles, no token creation (with any
# policy), no revocation of other tokens, no tuning. The default policy still lets the token
# look itself up, renew and revoke itself (exact paths there beat this glob).
path "auth/token/*" {
  capabilities = ["deny"]
}
path "sys/auth/token" {
  capabilities = ["deny"]
}
path "sys/auth/token/*" {
  capabilities = ["deny"]
}
path "sys/mounts/auth/token" {
  capabilities = ["deny"]
}
path "sys/mounts/auth/token/*" {
  capabilities = ["deny"]
}

# ACL policies, except the ones that say what an operator, the CI token itself, every token,
# and vault-bootstrap's own management token may do.
path "sys/policies/acl" {
  capabilities = ["list"]
}
path "sys/policies/acl/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "sys/policies/acl/admin" {
  capabilities = ["deny"]
}
path "sys/policies/acl/provisioner" {
  capabilities = ["deny"]
}
path "sys/policies/acl/default" {
  capabilities = ["deny"]
}
path "sys/policies/acl/vault-bootstrap" {
  capabilities = ["deny"]
}

# Secrets engines
path "sys/mounts/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "sys/mounts" {
  capabilities = ["read"]
}
