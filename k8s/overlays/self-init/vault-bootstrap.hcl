# vault-bootstrap: the policy of the sidecar's login in self-init mode (auth/kubernetes, role
# vault-bootstrap), declared by the server's own initialize stanzas. It configures (policies,
# the provisioner token role), issues and revokes provisioner tokens, and seals in an
# emergency. Never handed to CI. It reads no secret engine's data.

# Policies (the built-in ones and --policies-dir): read to compare, write what differs.
path "sys/policies/acl/*" {
  capabilities = ["create", "read", "update"]
}

# The provisioner token: its role, tokens created through it, the old one revoked.
path "auth/token/roles/provisioner" {
  capabilities = ["create", "read", "update"]
}
path "auth/token/create/provisioner" {
  capabilities = ["create", "update"]
}
path "auth/token/revoke-accessor" {
  capabilities = ["update"]
}

# The emergency brake (vault-bootstrap seal, and a sidecar obeying a seal intent), and the
# peers `seal` finds to seal them all.
path "sys/seal" {
  capabilities = ["update", "sudo"]
}
path "sys/ha-status" {
  capabilities = ["read", "sudo"]
}
path "sys/storage/raft/configuration" {
  capabilities = ["read", "sudo"]
}
