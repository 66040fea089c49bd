import { defineConfig } from 'vitest/config';

/**
 * `npm test` runs the suite on Node 20 (the engines floor), then again on Node 24 (the image's
 * major). The second pass leaves out the suites whose subject is not the runtime: the servers'
 * own behaviour under faults and IAM, the manifests and their scan, the alert rules, the image
 * (it runs its own Node 24 inside the container), and the chaos matrices and races, which repeat
 * scenarios the remaining suites already run on Node 24 (crash at every checkpoint, sidecars,
 * tokens, rotation, migration). They are 41 % of the suite's test time, and a second run tells
 * nothing new.
 */
const NOT_RUNTIME_SPECIFIC = [
  'test/integration/k8s-manifests.test.ts',
  'test/integration/k8s-security.test.ts',
  'test/integration/helm.test.ts',
  'test/integration/alerts.test.ts',
  'test/integration/image.test.ts',
  'test/integration/kms-iam.test.ts',
  'test/integration/kms-faults.test.ts',
  'test/integration/chaos-network.test.ts',
  'test/integration/chaos-cluster.test.ts',
  'test/integration/chaos-takeover.test.ts',
  'test/integration/chaos-rotation.test.ts',
  'test/integration/escalation-paths.test.ts',
  'test/integration/k8s-admission.test.ts',
  'test/integration/foreign-secret.test.ts',
  'test/integration/static-seal.test.ts',
  // The restore procedure's subject is the servers' force-restore and unseal order; the streaming
  // it shares with snapshot.test.ts (Node streams, the S3 and GCS clients) runs on both majors there.
  'test/integration/restore.test.ts',
  // The downgrade guard's subject is two server releases over one storage; its rules are unit-tested on both majors.
  'test/integration/downgrade.test.ts',
  // The 3-node seal migration's subject is the servers' hand-over order.
  'test/integration/seal-migration-cluster.test.ts',
  // KMS → static seal: the servers' migration between two auto-unseal seals.
  'test/integration/static-seal-migration.test.ts',
  // The sidecar's snapshot schedule is a pure rule (unit-tested) over the streaming that
  // snapshot.test.ts runs on both majors.
  'test/integration/snapshot-loop.test.ts',
  // The drill's subject is the servers' restore (restore.test.ts's steps, into a throwaway server).
  'test/integration/restore-drill.test.ts',
  // moto's IAM enforcement of the documented bucket grants: the subject is the policy, not Node.
  'test/integration/snapshot-iam.test.ts',
  // The manifests on a real kubelet (scripts/local-cluster.sh): their subject is Kubernetes, and the
  // image runs its own Node 24.
  'test/e2e/local-cluster.test.ts',
  // The official OpenBao chart installed on the same cluster: its subject is the chart and Helm.
  'test/e2e/helm-install.test.ts',
];

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The integration tests run dist/: rebuilt first when src/ is newer (test/build-if-stale.ts).
    globalSetup: ['test/build-if-stale.ts'],
    exclude: process.env.VB_TEST_NODE_MAJOR === '24' ? NOT_RUNTIME_SPECIFIC : [],
    testTimeout: 60000,
    hookTimeout: 120000,
    pool: 'forks',
    // The suites mostly wait on real servers (sys/init, raft elections, timeouts), not on CPU.
    maxWorkers: 4,
    minWorkers: 1,
  },
});
