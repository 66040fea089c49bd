import { ConfigError } from '../errors.js';
import { downgradeOf, type ServerRelease } from '../vault/server-version.js';
import { serverKindOf } from '../vault/servers.js';
import type { StepContext } from './context.js';

/**
 * The downgrade guard of the one-shot commands that change a cluster's storage with its keys
 * (migrate-seal, rotate-keys, generate-root; restore with the snapshot's release): exit 2 with
 * one line, before anything is changed, when this server is older than `highest` (what the
 * keys record holds, `highestServer`; undefined: no guard). `command` names the caller.
 */
export async function refuseDowngrade(
  context: StepContext,
  command: string,
  highest: ServerRelease | undefined,
): Promise<void> {
  if (highest === undefined) return;
  const problem = downgradeOf(await serverRelease(context), highest, context.records.names.unsealKeys);
  if (problem !== undefined) throw new ConfigError(`${command}: ${problem}; nothing was changed`);
}

/** Which product and release this server is, from its sys/health (version undefined when it does not say). */
export async function serverRelease(context: StepContext): Promise<Partial<ServerRelease>> {
  const { body } = await context.vault.health({ signal: context.signal });
  return { kind: serverKindOf(body), ...(typeof body.version === 'string' ? { version: body.version } : {}) };
}
