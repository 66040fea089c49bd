import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, runCli } from '../../harness/cli.js';
import { MotoKms, SEAL_KMS_ACTIONS, type AwsCredentials } from '../../harness/kms.js';
import { startMoto, type Moto } from '../../harness/moto.js';
import { describeEachKmsServer, missingServer, serverRequest, TestServer } from '../helpers/servers.js';

/**
 * Least privilege, with moto enforcing IAM: the documented action lists (README, "Cloud stores:
 * IAM"; k8s/README.md) are enough, and each action left out makes something fail. moto checks
 * actions against resource "*" only, so this shows the action lists, not ARN scoping.
 */

/**
 * The Secrets Manager actions of the sidecar's documented policy (k8s/README.md, "IAM on AWS"),
 * read from the document itself. TagResource is checked by AWS on a tagged CreateSecret; moto does
 * not check it. The policy's ARN patterns (`secret:PREFIX-*`) cannot be enforced by moto (it
 * checks Secrets Manager against resource `*`): test/unit/iam.test.ts evaluates them offline.
 */
const SIDECAR_SECRETS_ACTIONS = (() => {
  const readme = readFileSync(fileURLToPath(new URL('../../k8s/README.md', import.meta.url)), 'utf8');
  const policy = /### IAM on AWS[\s\S]*?```json\n([\s\S]*?)```/.exec(readme)![1]!;
  const actions = (JSON.parse(policy) as { Statement: Array<{ Action: string[] }> }).Statement.flatMap(
    (statement) => statement.Action,
  );
  return [...new Set(actions)].filter((action) => action !== 'secretsmanager:TagResource');
})();

let moto: Moto;
let kms: MotoKms;
const servers: TestServer[] = [];

beforeAll(async () => {
  moto = await startMoto();
  kms = await MotoKms.start(moto);
});

afterAll(async () => {
  await kms?.relaxIam().catch(() => undefined);
  await Promise.all(servers.map((server) => server.stop()));
  await kms?.faults.stop();
  await moto?.stop();
});

/** Users made while moto does not enforce IAM; enforcement is switched on for the checks only. */
async function underEnforcedIam<T>(check: () => Promise<T>): Promise<T> {
  await kms.enforceIam();
  try {
    return await check();
  } finally {
    await kms.relaxIam();
  }
}

let userCount = 0;
const userFor = (actions: readonly string[]) => kms.userAllowed(`user-${(userCount += 1)}`, [...actions]);

describeEachKmsServer('least privilege of the awskms seal', (build) => {
  /** Whether a server with these credentials starts, initializes, and auto-unseals after a restart; the first step that failed otherwise. */
  async function sealWorksWith(
    credentials: AwsCredentials,
    keyId: string,
  ): Promise<'works' | 'start' | 'init' | 'unseal'> {
    const server = await TestServer.create({ build, seal: await kms.seal({ keyId, credentials }) });
    servers.push(server);
    const launched = await server.launch();
    const listening = await waitFor(
      async () => (await serverRequest(server, 'GET', 'sys/health').catch(() => undefined))?.status === 501,
      20_000,
    );
    if (!listening || !launched.running()) return 'start';
    const init = await serverRequest(server, 'PUT', 'sys/init', undefined, {
      recovery_shares: 1,
      recovery_threshold: 1,
    });
    if (init.status !== 200) return 'init';
    await server.stop();
    await server.launch();
    const unsealed = await waitFor(
      async () => (await serverRequest(server, 'GET', 'sys/health').catch(() => undefined))?.status === 200,
      20_000,
    );
    await server.stop();
    return unsealed ? 'works' : 'unseal';
  }

  it(`the documented KMS actions (${SEAL_KMS_ACTIONS.join(', ')}) are enough, and each one left out fails`, async () => {
    const cases = [
      { without: 'none', actions: [...SEAL_KMS_ACTIONS] },
      ...SEAL_KMS_ACTIONS.map((left) => ({
        without: left,
        actions: SEAL_KMS_ACTIONS.filter((action) => action !== left),
      })),
    ];
    const prepared = await Promise.all(
      cases.map(async (entry) => ({
        ...entry,
        keyId: await kms.createKey(),
        credentials: await userFor(entry.actions),
      })),
    );
    const outcomes: Record<string, string> = {};
    await underEnforcedIam(async () => {
      for (const entry of prepared) outcomes[entry.without] = await sealWorksWith(entry.credentials, entry.keyId);
    });
    console.log(`[${build}] awskms seal with an action left out → the step that fails: ${JSON.stringify(outcomes)}`);
    expect(outcomes.none).toBe('works');
    for (const action of SEAL_KMS_ACTIONS) expect(outcomes[action], action).not.toBe('works');
  }, 240_000);
});

describe.skipIf(missingServer('openbao') !== undefined)('least privilege of the sidecar in Secrets Manager', () => {
  async function sidecarWorksWith(
    credentials: AwsCredentials,
    prefix: string,
  ): Promise<{ code: number | null; stdout: string }> {
    const server = await TestServer.start({ kind: 'openbao' });
    servers.push(server);
    const env = cleanEnv({
      ...moto.env,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      VB_LOG_LEVEL: 'info',
    });
    const result = await runCli(
      ['run', '--once', '--timeout', '20s', '--store', 'aws', '--store-prefix', prefix, '--vault-addr', server.address],
      env,
    );
    await server.stop();
    return result;
  }

  it(`the documented Secrets Manager actions (${SIDECAR_SECRETS_ACTIONS.join(', ')}) are enough, and each one left out fails`, async () => {
    const cases = [
      { without: 'none', actions: [...SIDECAR_SECRETS_ACTIONS] },
      ...SIDECAR_SECRETS_ACTIONS.map((left) => ({
        without: left,
        actions: SIDECAR_SECRETS_ACTIONS.filter((action) => action !== left),
      })),
    ];
    const prepared = await Promise.all(
      cases.map(async (entry) => ({ ...entry, credentials: await userFor(entry.actions) })),
    );
    const exits: Record<string, number | null> = {};
    await underEnforcedIam(async () => {
      for (const [index, entry] of prepared.entries()) {
        const result = await sidecarWorksWith(entry.credentials, `least-${index}`);
        exits[entry.without] = result.code;
        if (entry.without === 'none') expect(result.code, result.stdout).toBe(0);
      }
    });
    console.log(`[secrets manager] run --once with an action left out → exit code: ${JSON.stringify(exits)}`);
    for (const action of SIDECAR_SECRETS_ACTIONS) expect(exits[action], action).not.toBe(0);
  }, 240_000);
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}
