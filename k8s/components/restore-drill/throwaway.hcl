# The drill's throwaway server: raft in the pod's own emptyDir, listening on the pod's loopback
# only (the drill is its one client); it lives and dies with the drill's pod.
listener "tcp" {
  address         = "127.0.0.1:8200"
  cluster_address = "127.0.0.1:8201"
  tls_disable     = true
}

storage "raft" {
  path    = "/openbao/data"
  node_id = "restore-drill"
}

api_addr     = "http://127.0.0.1:8200"
cluster_addr = "http://127.0.0.1:8201"
