# vault-bootstrap: the policy of the sidecar's own management token ({prefix}-management-token),
# issued through the token role vault-bootstrap-management, first with the root token, then each
# period by the token it replaces (which is revoked once its successor is stored). It configures
# (policies, the token roles, HashiCorp Vault's audit device), issues and revokes provisioner
# tokens, seals in an emergency, rotates the unseal or recovery keys, and repairs drift once the
# root token is revoked. Never handed to CI. It reads no secret engine's data.

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

# Its own successor, each period: the role (orphan, this policy only, not renewable, an explicit
# max TTL) and tokens made through it. The old token revokes itself (the default policy's
# revoke-self). Writing policies makes this token admin-equivalent anyway: what the role bounds
# is the life of a copy nobody uses (README, "Policies").
path "auth/token/roles/vault-bootstrap-management" {
  capabilities = ["create", "read", "update"]
}
path "auth/token/create/vault-bootstrap-management" {
  capabilities = ["create", "update"]
}

# The emergency brake (vault-bootstrap seal, and a sidecar obeying a seal intent), and the
# peers `seal` finds to seal them all.
path "sys/seal" {
  capabilities = ["update", "sudo"]
}
# migrate-seal on the active node of a cluster whose standbys run the new seal: the active role
# moves to a migrated standby, which completes the seal migration (leadership only, no data),
# once autopilot shows every raft server a voter.
path "sys/step-down" {
  capabilities = ["update", "sudo"]
}
path "sys/storage/raft/autopilot/state" {
  capabilities = ["read"]
}
path "sys/ha-status" {
  capabilities = ["read", "sudo"]
}
path "sys/storage/raft/configuration" {
  capabilities = ["read", "sudo"]
}

# HashiCorp Vault's audit device, ensured through the API (OpenBao takes it from its config):
# its own device only, never another one (a SIEM's). Its options (file_path, log_raw) are
# inside one parameter the ACL cannot look into: a stolen copy of this token could re-create
# this one device with other options (README, "Policies").
path "sys/audit" {
  capabilities = ["read", "sudo"]
}
path "sys/audit/vault-bootstrap" {
  capabilities = ["create", "update", "delete", "sudo"]
}

# rotate-keys on OpenBao (authenticated sys/rotate; Vault's sys/rekey needs no token): the
# three steps it calls, not the backup endpoints.
path "sys/rotate/root/init" {
  capabilities = ["create", "read", "update", "delete", "sudo"]
}
path "sys/rotate/root/update" {
  capabilities = ["create", "update", "sudo"]
}
path "sys/rotate/root/verify" {
  capabilities = ["create", "read", "update", "sudo"]
}
path "sys/rotate/recovery/init" {
  capabilities = ["create", "read", "update", "delete", "sudo"]
}
path "sys/rotate/recovery/update" {
  capabilities = ["create", "update", "sudo"]
}
path "sys/rotate/recovery/verify" {
  capabilities = ["create", "read", "update", "sudo"]
}

# generate-root on OpenBao >= 2.6 through the authenticated route (with the stored keys; the
# unauthenticated sys/generate-root is off by default from 2.5.3 and stays a break-glass).
path "sys/generate-root-token/attempt" {
  capabilities = ["create", "read", "update", "delete"]
}
path "sys/generate-root-token/update" {
  capabilities = ["create", "update"]
}

# vault-bootstrap snapshot and the sidecar's periodic snapshots (SPEC §12): read the raft snapshot
# (a root-protected path, hence sudo). Restoring (snapshot-force) is done with the throwaway root
# token of an empty server, never with this token.
path "sys/storage/raft/snapshot" {
  capabilities = ["read", "sudo"]
}

# status names every auth role or user that hands out admin, provisioner, vault-bootstrap or
# root at login: it lists the auth methods and reads their roles and users (an entry holds no
# password or secret ID; one segment below role/, users/ and certs/, so not an AppRole's role-id).
path "sys/auth" {
  capabilities = ["read"]
}
path "auth/+/role/" {
  capabilities = ["list"]
}
path "auth/+/role/+" {
  capabilities = ["read"]
}
path "auth/+/users/" {
  capabilities = ["list"]
}
path "auth/+/users/+" {
  capabilities = ["read"]
}
path "auth/+/certs/" {
  capabilities = ["list"]
}
path "auth/+/certs/+" {
  capabilities = ["read"]
}
