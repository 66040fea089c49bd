// CoreDNS with the plugins scripts/local-cluster.sh's Corefile uses (kubernetes, bind, errors)
// and no others: the release's own main links every plugin (the cloud DNS providers' SDKs, the
// tracers), which takes several times longer to build and is never run here. coremain is the
// release's own start-up; plugins register themselves by being imported.
package main

import (
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"
)

func main() {
	coremain.Run()
}
