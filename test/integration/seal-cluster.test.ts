import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { freePort } from '../../harness/child-server.js';
import { capturedOutput, cleanEnv, runCli, startCli, type RunningCli } from '../../harness/cli.js';
import { baoRequest, OpenBao } from '../../harness/openbao.js';
import { describeEachServer, type ServerKind } from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

async function readyz(port: number): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: response.status, text: await response.text() };
}

async function sealed(node: OpenBao): Promise<boolean> {
  return (await baoRequest(node, 'GET', 'sys/seal-status')).body.sealed === true;
}

const allNodes: OpenBao[] = [];
const sidecars: RunningCli[] = [];

afterAll(async () => {
  for (const sidecar of sidecars) sidecar.child.kill('SIGTERM');
  await Promise.all(sidecars.map((sidecar) => sidecar.result));
  await Promise.all(allNodes.map((node) => node.stop()));
});

describeEachServer('vault-bootstrap seal on a 3-node raft cluster', (kind: ServerKind) => {
  it('seals every node it may (the sidecars read no intent between reconciles); the sidecars keep them sealed until resume', async () => {
    const nodes = await OpenBao.createCluster(3, { kind });
    allNodes.push(...nodes);
    await Promise.all(nodes.map((node) => node.start()));
    const storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-seal-cluster-')), 'store');
    const storeArgs = ['--store', 'file', '--file-dir', storeDirectory];
    const ports: number[] = [];
    for (const [index, node] of nodes.entries()) {
      const port = await freePort();
      ports.push(port);
      // A reconcile interval of an hour: whatever seals a node in this test, it is not a sidecar's reconcile.
      const args = [
        'run',
        ...storeArgs,
        '--vault-addr',
        node.address,
        '--listen',
        `127.0.0.1:${port}`,
        '--interval',
        '1s',
        '--reconcile-interval',
        '1h',
      ];
      sidecars.push(startCli(args, cleanEnv({ POD_NAME: `vault-${index}` })));
    }
    for (const port of ports)
      await expect.poll(async () => (await readyz(port)).status, { timeout: 120_000, interval: 100 }).toBe(200);

    // Run against one node; it finds the others through the cluster and seals each.
    const seal = await runCli(['seal', '--json', '--reason', 'drill', ...storeArgs, '--vault-addr', nodes[1]!.address]);
    expect(seal.code, seal.stderr).toBe(0);
    const report = JSON.parse(seal.stdout);
    expect(report.error).toBeNull();
    expect(report.nodes.map((node: { address: string }) => node.address).sort()).toEqual(
      nodes.map((node) => node.address).sort(),
    );
    if (kind === 'openbao') {
      expect(report.nodes.every((node: { outcome: string }) => node.outcome === 'sealed')).toBe(true);
      // Sealed when the command returns: no waiting for any sidecar.
      for (const node of nodes) expect(await sealed(node)).toBe(true);
      // Each sidecar sees its node sealed, reads the intent and holds it sealed.
      for (const port of ports)
        await expect
          .poll(async () => (await readyz(port)).text.split(':')[0], { timeout: 20_000, interval: 100 })
          .toBe('sealed');
      for (const node of nodes) expect(await sealed(node)).toBe(true);
    } else {
      // Vault refuses to seal a standby ("please restart instead"): the active node is sealed, each
      // standby is reported refused, and none is left active to serve a request.
      const outcomes = report.nodes.map((node: { outcome: string }) => node.outcome).sort();
      expect(outcomes).toEqual(['refused', 'refused', 'sealed']);
      for (const node of nodes) expect((await baoRequest(node, 'GET', 'sys/health')).status).not.toBe(200);
    }

    expect((await runCli(['resume', ...storeArgs, '--vault-addr', nodes[0]!.address])).code).toBe(0);
    for (const port of ports)
      await expect.poll(async () => (await readyz(port)).status, { timeout: 60_000, interval: 100 }).toBe(200);
    for (const node of nodes) expect(await sealed(node)).toBe(false);
    for (const sidecar of sidecars.splice(0)) {
      sidecar.child.kill('SIGTERM');
      expect((await sidecar.result).code).toBe(0);
    }
    await Promise.all(nodes.map((node) => node.stop()));

    expectNoSecretIn(capturedOutput, await secretValuesIn(new FileStore(storeDirectory)));
  });
});
