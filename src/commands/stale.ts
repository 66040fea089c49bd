import { describeError } from '../errors.js';
import { classifyHealth, isUnsealed } from '../machine/health.js';
import type { VaultSeen } from '../machine/decide.js';
import type { StepContext } from '../steps/context.js';
import { managementToken } from '../steps/management-token.js';
import { keyTypeFor } from '../seal.js';
import { GenerateRootApi, KeyRotationApi, rotationKindOf, type KeyKind } from '../vault/rotation.js';
import { serverKindOf } from '../vault/servers.js';

/** A key operation in progress on the server that no record of ours owns. */
export interface StaleOperation {
  operation: 'rotation' | 'generate-root';
  /** The server path of the operation (sys/rotate/root, sys/rekey-recovery-key, sys/generate-root, …). */
  path: string;
  nonce: string;
  progress: number;
  required: number;
}

export interface StaleCheck {
  operations: StaleOperation[];
  /** The rotation API the check read, for cancel-stale (not part of the report). */
  rotation?: KeyRotationApi;
  /** Why (part of) the check could not run, e.g. no root token, a sealed node, endpoints switched off. */
  unchecked: string[];
}

/** What the check needs of the server when no observation hands it over (cancel-stale). */
async function lookAtServer(context: StepContext): Promise<Pick<VaultSeen, 'health' | 'serverKind' | 'sealType'>> {
  const { vault, signal } = context;
  const health = await vault.health({ signal });
  const kind = classifyHealth(health.status);
  return {
    health: kind,
    serverKind: serverKindOf(health.body),
    sealType: isUnsealed(kind) ? (await vault.sealStatus({ signal })).type : undefined,
  };
}

/**
 * Rotations (rekeys) and root generations in progress that no record of ours owns: ours carry
 * their nonce in the pending keys record or in the root-token record's generation. Anyone
 * else's attempt — a crashed operator's, an attacker's — is reported by status and plan, and
 * cancel-stale cancels it. Reads only.
 */
export async function findStaleOperations(
  context: StepContext,
  seen?: Pick<VaultSeen, 'health' | 'serverKind' | 'sealType'>,
): Promise<StaleCheck> {
  const { vault, records } = context;
  const looked = seen ?? (await lookAtServer(context));
  const server = looked.serverKind;
  if (!isUnsealed(looked.health) || server === undefined)
    return {
      operations: [],
      unchecked: ['the node does not serve requests (sealed, uninitialized or down): nothing to check'],
    };
  const kind: KeyKind = rotationKindOf(keyTypeFor(looked.sealType));
  const operations: StaleOperation[] = [];
  const unchecked: string[] = [];

  const root = await records.readRootToken();
  const management = await managementToken(context).catch(() => undefined);
  let rotation: KeyRotationApi | undefined;
  if (management !== undefined) {
    rotation = new KeyRotationApi(vault.client, server, kind, management.token);
    try {
      const status = await rotation.status();
      const ours = (await records.readUnsealKeyVersions()).pending.some(
        (pending) => pending.record.nonce === status.nonce,
      );
      if (status.started && !ours)
        operations.push({
          operation: 'rotation',
          path: rotation.path,
          nonce: status.nonce,
          progress: status.progress,
          required: status.required,
        });
    } catch (error) {
      unchecked.push(`rotation: ${describeError(error).message}`);
    }
  } else {
    unchecked.push(
      `rotation: neither ${records.names.managementToken} nor ${records.names.rootToken} holds a token the server takes to read its status with`,
    );
  }

  try {
    const status = await new GenerateRootApi(vault.client).status();
    if (status.started && root?.generation?.nonce !== status.nonce) {
      operations.push({
        operation: 'generate-root',
        path: 'sys/generate-root',
        nonce: status.nonce,
        progress: status.progress,
        required: status.required,
      });
    }
  } catch (error) {
    unchecked.push(`generate-root: ${describeError(error).message}`);
  }
  return { operations, unchecked, ...(rotation ? { rotation } : {}) };
}

/** cancel-stale: cancels each operation findStaleOperations reports; ours are left to their commands. */
export async function cancelStaleOperations(
  context: StepContext,
): Promise<StaleCheck & { cancelled: StaleOperation[] }> {
  const { vault, log } = context;
  const check = await findStaleOperations(context);
  const cancelled: StaleOperation[] = [];
  for (const operation of check.operations) {
    await (operation.operation === 'generate-root' ? new GenerateRootApi(vault.client) : check.rotation!).cancel();
    log.warn(
      {
        event: 'stale-operation-cancelled',
        operation: operation.operation,
        path: operation.path,
        progress: operation.progress,
      },
      `cancelled a ${operation.operation} that no record of ours owns`,
    );
    cancelled.push(operation);
  }
  return { operations: check.operations, unchecked: check.unchecked, cancelled };
}

export function formatStale(check: StaleCheck & { cancelled?: StaleOperation[] }): string {
  const lines =
    check.operations.length === 0
      ? ['no stale key operation in progress']
      : check.operations.map(
          (op) =>
            `${check.cancelled ? 'cancelled' : 'stale'} ${op.operation} at ${op.path}: ${op.progress} of ${op.required} shares in (not ours)`,
        );
  return [...lines, ...check.unchecked.map((reason) => `not checked: ${reason}`)].join('\n');
}
