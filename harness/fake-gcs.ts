import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startChildServer } from './child-server.js';

const FAKE_GCS_SERVER = fileURLToPath(new URL('../.tools/fake-gcs-server', import.meta.url));
const INSTALL_ERROR = fileURLToPath(new URL('../.tools/fake-gcs-server-error', import.meta.url));

/** Why fake-gcs-server cannot run here (missing, or its install error), or undefined when it can. */
export function missingFakeGcs(): string | undefined {
  if (existsSync(FAKE_GCS_SERVER)) return undefined;
  const error = existsSync(INSTALL_ERROR) ? readFileSync(INSTALL_ERROR, 'utf8').trim() : 'not installed';
  return `${FAKE_GCS_SERVER} is missing (${error}): run bash scripts/install-tools.sh fake-gcs-server`;
}

export interface FakeGcs {
  endpoint: string;
  /** What the Cloud Storage client needs to talk to this server and nothing else. */
  env: Record<string, string>;
  /** Creates a bucket (the JSON API's buckets.insert). */
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * fake-gcs-server (installed by scripts/install-tools.sh fake-gcs-server) on a loopback port,
 * plain http, objects in memory. Resumable uploads are answered at the same address
 * (-external-url), so the official client's resumable protocol runs end to end.
 */
export async function startFakeGcs(): Promise<FakeGcs> {
  const missing = missingFakeGcs();
  if (missing) throw new Error(missing);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const root = await mkdtemp(join(tmpdir(), 'vb-fake-gcs-'));
  await mkdir(join(root, 'data'));
  const server = await startChildServer(
    FAKE_GCS_SERVER,
    [
      '-scheme',
      'http',
      '-host',
      '127.0.0.1',
      '-port',
      String(port),
      '-backend',
      'memory',
      '-external-url',
      endpoint,
      '-public-host',
      `127.0.0.1:${port}`,
      '-data',
      join(root, 'data'),
      '-log-level',
      'warn',
    ],
    `${endpoint}/storage/v1/b`,
  );
  return {
    endpoint,
    env: {
      STORAGE_EMULATOR_HOST: endpoint,
      METADATA_SERVER_DETECTION: 'none',
      GOOGLE_CLOUD_PROJECT: 'vault-bootstrap-test',
    },
    async createBucket(name) {
      const response = await fetch(`${endpoint}/storage/v1/b?project=vault-bootstrap-test`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      if (!response.ok) throw new Error(`fake-gcs-server: creating bucket ${name}: HTTP ${response.status}`);
    },
    async stop() {
      await server.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
