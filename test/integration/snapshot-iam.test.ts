import { mkdtemp } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, logLines, runCli } from '../../harness/cli.js';
import { MotoKms, type AwsCredentials } from '../../harness/kms.js';
import { startMoto, type Moto } from '../../harness/moto.js';
import { missingServer, TestServer } from '../helpers/servers.js';

/**
 * The bucket grants README documents ("Disaster recovery", Bucket grants), read from README itself
 * and run against moto with IAM enforced: the snapshot writer's action list is enough for
 * snapshots with retention, the drill's for a restore drill, and each action left out makes them
 * fail (but s3:AbortMultipartUpload, which only a failed upload asks). moto checks actions against
 * resource "*" only: the ARN scoping is not exercised. The subject is S3's IAM, so one server kind.
 */
const README = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');

function documentedActions(lead: string): string[] {
  const block = new RegExp(`${lead}[\\s\\S]*?\`\`\`json\\n([\\s\\S]*?)\`\`\``).exec(README)![1]!;
  const policy = JSON.parse(block) as { Statement: Array<{ Action: string[] }> };
  return [...new Set(policy.Statement.flatMap((statement) => statement.Action))];
}
const WRITER = documentedActions('The snapshot writer \\(');
const DRILL = documentedActions('The restore drill \\(');

let moto: Moto;
let kms: MotoKms;
const servers: TestServer[] = [];
const missing = missingServer('openbao');

beforeAll(async () => {
  if (missing) return;
  moto = await startMoto();
  kms = await MotoKms.start(moto);
  await fetch(`${moto.endpoint}/my-vault-backups`, { method: 'PUT' });
}, 60_000);

afterAll(async () => {
  await kms?.relaxIam().catch(() => undefined);
  await Promise.all(servers.map((server) => server.stop()));
  await kms?.faults.stop();
  await moto?.stop();
});

let users = 0;
const userFor = (actions: readonly string[]) => kms.userAllowed(`snapshots-${(users += 1)}`, [...actions]);

describe.skipIf(missing !== undefined)('the documented bucket grants, with moto enforcing IAM', () => {
  let storeDirectory: string;
  let source: TestServer;
  const to = 's3://my-vault-backups/prod';
  const env = (credentials: AwsCredentials) =>
    cleanEnv({
      AWS_ENDPOINT_URL_S3: moto.endpoint,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
  const args = (server: TestServer, command: string, ...extra: string[]) => [
    command,
    '--store',
    'file',
    '--file-dir',
    storeDirectory,
    '--vault-addr',
    server.address,
    '--snapshot-to',
    to,
    ...extra,
  ];
  const failure = (stderr: string) =>
    (logLines(stderr).find((line) => line.event === 'failed') as { error?: { code?: string } } | undefined)?.error
      ?.code;

  /** Under enforced IAM only while `check` runs: users are made before. */
  async function enforced<T>(check: () => Promise<T>): Promise<T> {
    await kms.enforceIam();
    try {
      return await check();
    } finally {
      await kms.relaxIam();
    }
  }

  async function server(): Promise<TestServer> {
    const created = await TestServer.create({ kind: 'openbao' });
    await created.start();
    servers.push(created);
    return created;
  }

  beforeAll(async () => {
    storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-snapshot-iam-')), 'store');
    source = await server();
    const result = await runCli(['run', '--once', ...args(source, 'run').slice(1, -2)]);
    expect(result.code, result.stderr).toBe(0);
  }, 120_000);

  it('the writer: its actions take snapshots with retention; each one left out fails the snapshot', async () => {
    expect(WRITER.sort()).toEqual([
      's3:AbortMultipartUpload',
      's3:DeleteObject',
      's3:GetObject',
      's3:ListBucket',
      's3:PutObject',
    ]);
    const writer = await userFor(WRITER);
    const without = new Map<string, AwsCredentials>();
    for (const action of WRITER.filter((each) => each !== 's3:AbortMultipartUpload'))
      without.set(action, await userFor(WRITER.filter((each) => each !== action)));
    await enforced(async () => {
      // Two with --snapshot-retain 1: the second's retention deletes the first.
      for (let round = 0; round < 2; round += 1) {
        const result = await runCli(args(source, 'snapshot', '--snapshot-retain', '1'), env(writer));
        expect(result.code, result.stderr).toBe(0);
        if (round === 1) expect(JSON.parse(result.stdout).removed).toHaveLength(1);
      }
      for (const [action, credentials] of without) {
        const result = await runCli(args(source, 'snapshot', '--snapshot-retain', '1'), env(credentials));
        expect(result.code, `without ${action}`).not.toBe(0);
        expect(failure(result.stderr), `without ${action}`).toBe('SNAPSHOT_STORE_DENIED');
      }
    });
  }, 120_000);

  it('the drill: its actions restore and record; each one left out fails the drill', async () => {
    expect(DRILL.sort()).toEqual(['s3:GetObject', 's3:ListBucket', 's3:PutObject']);
    const drill = await userFor(DRILL);
    const without = new Map<string, AwsCredentials>();
    for (const action of DRILL) without.set(action, await userFor(DRILL.filter((each) => each !== action)));
    // Reads fail before the throwaway server is touched; the record's write only at the end.
    const touchedLast = ['s3:ListBucket', 's3:GetObject', 's3:PutObject'];
    const throwaway = await server();
    await enforced(async () => {
      for (const action of touchedLast) {
        const result = await runCli(args(throwaway, 'restore-drill'), env(without.get(action)!));
        expect(result.code, `without ${action}`).not.toBe(0);
        expect(failure(result.stderr), `without ${action}`).toBe('SNAPSHOT_STORE_DENIED');
      }
    });
    const empty = await server();
    await enforced(async () => {
      const result = await runCli(args(empty, 'restore-drill'), env(drill));
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ format: 1, checks: expect.arrayContaining(['cluster-id']) });
    });
  }, 180_000);
});
