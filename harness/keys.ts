import { fileURLToPath } from 'node:url';
import type { FileStore } from '../src/store/file.js';
import { SERVER_TRAITS } from '../src/vault/servers.js';
import { baoRequest, type OpenBao } from './openbao.js';
import { serverRequest, type TestServer } from './server-process.js';

/** The fault-injection hook of the chaos suite: SIGKILL at the checkpoint named in VB_TEST_CRASH_AT. */
export const CRASH_HOOK = fileURLToPath(new URL('./chaos/crash-hook.mjs', import.meta.url));

export interface StoredKeys {
  type: string;
  keysBase64: string[];
  threshold: number;
  shares: number;
  status?: string;
  nonce?: string;
  rotatedAt?: string;
  encrypted?: boolean;
  fingerprints?: string[];
}

export async function keyVersions(store: FileStore, prefix = 'vault'): Promise<StoredKeys[]> {
  return (await store.readAllVersions(`${prefix}-unseal-keys`)).map((text) => JSON.parse(text) as StoredKeys);
}

/** The latest stored root token that is not null. */
export async function storedRootToken(store: FileStore, prefix = 'vault'): Promise<string> {
  const versions = (await store.readAllVersions(`${prefix}-root-token`)).map(
    (text) => JSON.parse(text) as { token: string | null },
  );
  const token = versions
    .map((version) => version.token)
    .filter((value): value is string => value !== null)
    .at(-1);
  if (token === undefined) throw new Error('no root token stored');
  return token;
}

/** Every one-time pad a generate-root attempt stored (secrets too, for the output checks). */
export async function storedOneTimePads(store: FileStore, prefix = 'vault'): Promise<string[]> {
  return (await store.readAllVersions(`${prefix}-root-token`))
    .map((text) => (JSON.parse(text) as { generation?: { otp: string } }).generation?.otp)
    .filter((otp): otp is string => typeof otp === 'string');
}

/** Seals the server and unseals it with the given shares over plain HTTP; true when it opened. Leaves a rejected server sealed. */
export async function unsealsWith(server: OpenBao, rootToken: string, keys: string[]): Promise<boolean> {
  const seal = await baoRequest(server, 'PUT', 'sys/seal', rootToken);
  if (seal.status !== 204 && seal.status !== 200) throw new Error(`seal answered ${seal.status}`);
  return submitUnseal(server, keys);
}

async function submitUnseal(server: OpenBao, keys: string[]): Promise<boolean> {
  await baoRequest(server, 'PUT', 'sys/unseal', undefined, { reset: true });
  for (const key of keys) {
    const answer = await baoRequest(server, 'PUT', 'sys/unseal', undefined, { key });
    if (answer.status !== 200) return false;
    if (answer.body.sealed === false) return true;
  }
  return false;
}

/**
 * Whether the server takes these unseal or recovery keys, asked without changing anything:
 * a rotation with verification required completes only for the right keys, then is cancelled.
 * The paths are the server's own (servers.ts), called directly, not through the code under test.
 */
export async function rotationAccepts(
  server: TestServer,
  rootToken: string,
  kind: 'unseal' | 'recovery',
  keys: string[],
): Promise<boolean> {
  const paths = SERVER_TRAITS[server.kind].rotation[kind];
  await serverRequest(server, 'DELETE', paths.init, rootToken);
  const started = await serverRequest(server, 'POST', paths.init, rootToken, {
    secret_shares: 1,
    secret_threshold: 1,
    require_verification: true,
  });
  const nonce = (started.body.data ?? started.body).nonce as string;
  try {
    for (const key of keys) {
      const answer = await serverRequest(server, 'POST', paths.update, rootToken, { key, nonce });
      if (answer.status !== 200) return false;
      if ((answer.body.data ?? answer.body).complete) return true;
    }
    return false;
  } finally {
    await serverRequest(server, 'DELETE', paths.init, rootToken);
  }
}
