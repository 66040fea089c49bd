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
# HashiCorp Vault lowercases a policy name and trims its spaces before writing it, but checks
# the ACL against the path as sent: PUT sys/policies/acl/Admin (or "admin ", or " admin")
# would rewrite admin. So every spelling that folds into one of the four names is denied too:
# a name that starts like it and then has a capital letter (the longer glob wins over
# sys/policies/acl/*), the name followed by a space, and any name starting with a space. Write
# policy names in lower case (the server stores them so anyway). OpenBao folds before checking.
path "sys/policies/acl/A*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/aD*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/adM*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/admI*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/admiN*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/admin *" {
  capabilities = ["deny"]
}
path "sys/policies/acl/P*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/pR*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/prO*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/proV*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/provI*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/proviS*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/provisI*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/provisiO*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/provisioN*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/provisionE*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/provisioneR*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/provisioner *" {
  capabilities = ["deny"]
}
path "sys/policies/acl/D*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/dE*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/deF*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/defA*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/defaU*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/defauL*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/defaulT*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/default *" {
  capabilities = ["deny"]
}
path "sys/policies/acl/V*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/vA*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/vaU*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/vauL*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/vaulT*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/vault-B*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/vault-bO*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/vault-boO*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/vault-booT*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/vault-bootS*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/vault-bootsT*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/vault-bootstR*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/vault-bootstrA*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/vault-bootstraP*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/vault-bootstrap *" {
  capabilities = ["deny"]
}
path "sys/policies/acl/ *" {
  capabilities = ["deny"]
}

# Secrets engines
path "sys/mounts/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "sys/mounts" {
  capabilities = ["read"]
}
