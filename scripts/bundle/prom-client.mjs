// What src/metrics.ts takes from prom-client, and only that: its index also loads the Pushgateway
// (http, https, zlib), the cluster aggregator, the default process metrics and the summary's
// t-digest, none of which the sidecar uses (about 9 MiB of RSS on Node 20). scripts/build.mjs puts
// this module in place of `prom-client` in the bundle; a name src/ imports that is missing here
// fails the build ("No matching export"), never the program.
import Counter from 'prom-client/lib/counter.js';
import Gauge from 'prom-client/lib/gauge.js';
import Registry from 'prom-client/lib/registry.js';

export { Counter, Gauge, Registry };
