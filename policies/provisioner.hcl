# provisioner: configures tenants; the policy of the CI token. Modelled on the provisioner
# persona of HashiCorp's policy guide: auth methods and their roles, policies, secrets engines.
# No seal or unseal, no raw storage, no audit, no other sys/ path.
#
# It can never widen its own power in one request: the deny rules below name exact paths or
# longer globs, and in Vault's ACL the more specific path wins (and deny beats everything on
# the same path). What it can still
# do is README's "Policies": any identity that may write policies and bind them to an auth
# method's roles can grant itself a new policy that way. For a provisioner confined to a name
# prefix, see policies/scoped/provisioner.hcl.

# Auth methods and their roles. No kubernetes_host in any request: with no token_reviewer_jwt
# and disable_local_ca_jwt false (the default), the Kubernetes auth method sends the server
# pod's own service account token to the host its config names, at every login. An operator
# configures Kubernetes auth methods (README, "Security": "refused per request").
path "auth/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
  denied_parameters = {
    "kubernetes_host" = []
  }
}
# Tuning (sys/auth/NAME/tune) may not blind the audit log: a key named in
# audit_non_hmac_request_keys or audit_non_hmac_response_keys is written in clear, and request
# or response headers may not be passed through.
path "sys/auth/*" {
  capabilities = ["create", "update", "delete", "sudo"]
  denied_parameters = {
    "audit_non_hmac_request_keys"  = []
    "audit_non_hmac_response_keys" = []
    "passthrough_request_headers"  = []
    "allowed_response_headers"     = []
  }
}
path "sys/auth" {
  capabilities = ["read"]
}

# The sidecar's own login in self-init (k8s/overlays/self-init: auth/vault-bootstrap), and any
# operators' break-glass login mounted beside it under a name starting with vault-bootstrap:
# CI may neither rebind their roles nor disable, tune or re-enable them.
path "auth/vault-bootstrap*" {
  capabilities = ["deny"]
}
path "sys/auth/vault-bootstrap*" {
  capabilities = ["deny"]
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
# sys/mounts/auth/NAME is a second name for sys/auth/NAME: CI uses sys/auth.
path "sys/mounts/auth" {
  capabilities = ["deny"]
}
path "sys/mounts/auth/*" {
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
# HashiCorp Vault writes a policy under strings.ToLower(name) with a leading or trailing ASCII
# space dropped, but checks the ACL against the name as sent: PUT sys/policies/acl/Admin,
# "admin " or "adm\u0130n" (U+0130, capital I with dot above, which Go lowercases to an ASCII
# "i") would rewrite admin. OpenBao folds before it checks. Every spelling that folds into one
# of the four names is refused here, at the first character where it differs from the name:
#   - any name that starts with one of the four (so "admin" followed by anything, a space
#     included; CI cannot name a policy admin-x or defaults either);
#   - a name that starts like one and then has a capital letter, or U+0130 where the name has
#     an "i" (U+212A, the Kelvin sign that folds to "k", matters for no name here);
#   - a name that starts with a space, or with any other character Go's unicode.IsSpace knows
#     (neither server folds those; refused all the same).
# U+0130 and U+212A are the only non-ASCII code points whose simple lower case is ASCII;
# test/integration/escalation-paths.test.ts shows that both servers fold exactly capitals,
# these two and an ASCII space at either end, and sends every spelling to both. Write policy
# names in lower case (the server stores them so anyway).
path "sys/policies/acl/admin*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/provisioner*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/default*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/vault-bootstrap*" {
  capabilities = ["deny"]
}
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
path "sys/policies/acl/adm\u0130*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/admiN*" {
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
path "sys/policies/acl/prov\u0130*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/proviS*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/provisI*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/provis\u0130*" {
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
path "sys/policies/acl/\t*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\n*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u000b*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\f*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\r*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/ *" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u0085*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u00a0*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u1680*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u2000*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u2001*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u2002*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u2003*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u2004*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u2005*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u2006*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u2007*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u2008*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u2009*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u200a*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u2028*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u2029*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u202f*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u205f*" {
  capabilities = ["deny"]
}
path "sys/policies/acl/\u3000*" {
  capabilities = ["deny"]
}

# Secrets engines; tuning may not blind the audit log (as for sys/auth above). The sys,
# cubbyhole and identity mounts are not a tenant's: on OpenBao sys/mounts/sys/tune with
# audit_non_hmac_response_keys = ["keys"] would put the next rotate-keys' unseal keys in clear
# into the audit device. No delete: unmounting an engine destroys its data, another team's as
# well as CI's own; an operator unmounts (or CI with policies/scoped/provisioner.hcl, inside
# its name prefix).
path "sys/mounts/*" {
  capabilities = ["create", "read", "update", "list"]
  denied_parameters = {
    "audit_non_hmac_request_keys"  = []
    "audit_non_hmac_response_keys" = []
    "passthrough_request_headers"  = []
    "allowed_response_headers"     = []
  }
}
path "sys/mounts/sys" {
  capabilities = ["deny"]
}
path "sys/mounts/sys/*" {
  capabilities = ["deny"]
}
path "sys/mounts/cubbyhole" {
  capabilities = ["deny"]
}
path "sys/mounts/cubbyhole/*" {
  capabilities = ["deny"]
}
path "sys/mounts/identity" {
  capabilities = ["deny"]
}
path "sys/mounts/identity/*" {
  capabilities = ["deny"]
}
path "sys/mounts" {
  capabilities = ["read"]
}
