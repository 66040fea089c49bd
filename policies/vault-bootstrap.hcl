# vault-bootstrap: the policy of the sidecar's own management token ({prefix}-management-token),
# issued with the root token while it exists. It configures (policies, the provisioner token
# role, HashiCorp Vault's audit device), issues and revokes provisioner tokens, seals in an
# emergency, rotates the unseal or recovery keys, and repairs drift once the root token is
# revoked. Never handed to CI. It reads no secret engine's data.

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

# HashiCorp Vault's audit device, ensured through the API (OpenBao takes it from its config).
path "sys/audit" {
  capabilities = ["read", "sudo"]
}
path "sys/audit/*" {
  capabilities = ["create", "update", "delete", "sudo"]
}

# rotate-keys on OpenBao (authenticated sys/rotate; Vault's sys/rekey needs no token).
path "sys/rotate/root/*" {
  capabilities = ["create", "read", "update", "delete", "sudo"]
}
path "sys/rotate/recovery/*" {
  capabilities = ["create", "read", "update", "delete", "sudo"]
}

# vault-bootstrap snapshot and the sidecar's periodic snapshots (SPEC §12): read the raft snapshot
# (a root-protected path, hence sudo). Restoring (snapshot-force) is done with the throwaway root
# token of an empty server, never with this token.
path "sys/storage/raft/snapshot" {
  capabilities = ["read", "sudo"]
}
