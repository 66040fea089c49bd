# provisioner, scoped to one name prefix: a drop-in replacement for the built-in policy.
# Replace every "tenant-" with your prefix, put this file in the --policies-dir directory (the
# vault-bootstrap-policies ConfigMap in k8s/) as provisioner.hcl, and the sidecar writes it
# over the built-in one. The CI token then writes policies, enables auth methods and secrets
# engines, and manages auth roles only under names that start with the prefix: it cannot touch
# another team's, the admin, provisioner, default or vault-bootstrap policies, or the token
# auth method. Tested in test/integration/escalation.test.ts.
#
# What it still can do (README, "Policies"): a policy it writes under the prefix may grant
# anything, and an auth role under the prefix may hand that policy (or any other) to whoever
# logs in. Whoever controls the CI pipeline can therefore still reach any power in Vault; the
# prefix limits what the token touches by name, not what the pipeline can grant.
#
# As in the built-in policy: no kubernetes_host in any auth request (a Kubernetes auth method
# configured by CI would send the server pod's service account token to the host it names),
# and no tuning that blinds the audit log (audit_non_hmac_*_keys) or passes headers through.

path "sys/policies/acl" {
  capabilities = ["list"]
}
path "sys/policies/acl/tenant-*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

path "sys/auth" {
  capabilities = ["read"]
}
path "sys/auth/tenant-*" {
  capabilities = ["create", "update", "delete", "sudo"]
  denied_parameters = {
    "audit_non_hmac_request_keys"  = []
    "audit_non_hmac_response_keys" = []
    "passthrough_request_headers"  = []
    "allowed_response_headers"     = []
  }
}
path "auth/tenant-*" {
  capabilities = ["create", "read", "update", "delete", "list"]
  denied_parameters = {
    "kubernetes_host" = []
  }
}

path "sys/mounts" {
  capabilities = ["read"]
}
path "sys/mounts/tenant-*" {
  capabilities = ["create", "read", "update", "delete", "list"]
  denied_parameters = {
    "audit_non_hmac_request_keys"  = []
    "audit_non_hmac_response_keys" = []
    "passthrough_request_headers"  = []
    "allowed_response_headers"     = []
  }
}
