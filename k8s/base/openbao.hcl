# OpenBao server configuration. api_addr, cluster_addr and the raft node_id come from the
# environment (BAO_API_ADDR, BAO_CLUSTER_ADDR, BAO_RAFT_NODE_ID), set per pod in statefulset.yaml.
# No disable_mlock: OpenBao 2.x does not mlock and reports the field as unknown, so the
# container needs no IPC_LOCK capability.
ui = true

listener "tcp" {
  address         = "0.0.0.0:8200"
  cluster_address = "0.0.0.0:8201"
  # From the Secret vault-tls (see k8s/README.md for the names the certificate must cover).
  tls_cert_file   = "/openbao/tls/tls.crt"
  tls_key_file    = "/openbao/tls/tls.key"
  tls_min_version = "tls12"
}

storage "raft" {
  path = "/openbao/data"
  # Raft's production timings (HashiCorp recommends 1 for production; the default 5 suits slow
  # development machines): faster leader election, so a fresh node answers sys/init sooner.
  performance_multiplier = 1

  # Every node tries every peer; whichever is initialized and unsealed lets the others join.
  retry_join {
    leader_api_addr     = "https://openbao-0.openbao-internal:8200"
    leader_ca_cert_file = "/openbao/tls/ca.crt"
  }
  retry_join {
    leader_api_addr     = "https://openbao-1.openbao-internal:8200"
    leader_ca_cert_file = "/openbao/tls/ca.crt"
  }
  retry_join {
    leader_api_addr     = "https://openbao-2.openbao-internal:8200"
    leader_ca_cert_file = "/openbao/tls/ca.crt"
  }
}

service_registration "kubernetes" {}

# Audit on by default: every request and response, to standard output so the platform's log
# pipeline keeps it (secrets are HMAC'd, never written in clear). OpenBao takes audit devices
# only from its configuration file; with Vault, vault-bootstrap ensures the same device through
# the API (--audit-file).
audit "file" "stdout" {
  description = "every request, to the container log"
  options {
    file_path = "stdout"
  }
}
