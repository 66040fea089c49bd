# OpenBao initializes itself at first start (OpenBao >= 2.4; needs the auto-unseal seal of the
# overlay below): sys/init, these requests, then its root token is revoked. No key and no root
# token ever leave the server. The requests declare the sidecar's login: Kubernetes auth, role
# vault-bootstrap, bound to the pod's service account and to tokens made for the audience
# "vault-bootstrap" (the sidecar's projected token, which the Kubernetes API itself refuses),
# on a mount of its own, auth/vault-bootstrap, which the CI token may not touch
# (policies/provisioner.hcl); its tokens are valid from loopback only (the sidecar shares the
# pod's network with the server and calls https://127.0.0.1:8200).
# OpenBao reviews those tokens (TokenReview) with its own service account token, which
# rbac.yaml binds to system:auth-delegator.
initialize "vault-bootstrap" {
  request "sidecar-policy" {
    operation = "update"
    path      = "sys/policies/acl/vault-bootstrap"
    data = {
      policy = { eval_type = "string", eval_source = "file", path = "/openbao/config/vault-bootstrap.hcl" }
    }
  }
  request "enable-kubernetes-auth" {
    operation = "update"
    path      = "sys/auth/vault-bootstrap"
    data      = { type = "kubernetes" }
  }
  request "kubernetes-auth-config" {
    operation = "update"
    path      = "auth/vault-bootstrap/config"
    data      = { kubernetes_host = "https://kubernetes.default.svc" }
  }
  request "sidecar-role" {
    operation = "update"
    path      = "auth/vault-bootstrap/role/vault-bootstrap"
    data = {
      bound_service_account_names      = ["openbao"]
      bound_service_account_namespaces = ["vault"]
      audience                         = "vault-bootstrap"
      token_policies                   = ["vault-bootstrap"]
      token_ttl                        = "1h"
      token_bound_cidrs                = ["127.0.0.1/32"]
    }
  }
}
