import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCli, type CliResult } from './cli.js';
import type { TestServer } from './server-process.js';

const CRASH_HOOK = fileURLToPath(new URL('./chaos/crash-hook.mjs', import.meta.url));

/** One pod of a static-seal StatefulSet: its name, its memory-backed key directory (emptyDir, medium: Memory), its server. */
export interface StaticSealPod {
  name: string;
  directory: string;
  server: TestServer;
}

/** A memory-backed directory, as the overlay mounts one per pod. */
export async function memoryDirectory(prefix: string): Promise<{ directory: string; remove(): Promise<void> }> {
  const directory = await mkdtemp(`/dev/shm/${prefix}-`);
  return { directory, remove: () => rm(directory, { recursive: true, force: true }) };
}

/** The server reads the stanza seal-key writes, as the overlay's second -config does. */
export function useSealKeyDirectory(server: TestServer, directory: string): void {
  server.options = { ...server.options, extraConfigFiles: [join(directory, 'seal.hcl')] };
}

/**
 * `vault-bootstrap seal-key` as the pod's init container runs it, with the crash hook preloaded
 * (`crashAt`: the checkpoint it SIGKILLs itself at). `storeArgs`/`env` name the store.
 */
export function runSealKey(
  pod: Pick<StaticSealPod, 'name' | 'directory'>,
  storeArgs: string[],
  env: Record<string, string>,
  crashAt?: string,
): Promise<CliResult> {
  const args = ['seal-key', ...storeArgs, '--seal-key-dir', pod.directory, '--timeout', '60s'];
  return startCli(args, { ...env, POD_NAME: pod.name, ...(crashAt ? { VB_TEST_CRASH_AT: crashAt } : {}) }, [
    '--import',
    CRASH_HOOK,
  ]).result;
}

/** rotate-seal-key, with the crash hook. */
export function runRotateSealKey(
  storeArgs: string[],
  env: Record<string, string>,
  crashAt?: string,
): Promise<CliResult> {
  return startCli(['rotate-seal-key', ...storeArgs], { ...env, ...(crashAt ? { VB_TEST_CRASH_AT: crashAt } : {}) }, [
    '--import',
    CRASH_HOOK,
  ]).result;
}

/** Every key a seal-key record ever held, base64 and hex: what no output may contain. */
export function sealKeyValues(versions: readonly string[]): string[] {
  return versions.flatMap((text) => {
    const key = (JSON.parse(text) as { keyBase64: string }).keyBase64;
    return [key, Buffer.from(key, 'base64').toString('hex')];
  });
}
