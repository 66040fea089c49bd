import { isUnsealed } from '../machine/health.js';
import { claimName, describeInvalidRecord, type SealIntent, type StoredRecord } from '../store/records.js';
import { observe } from '../machine/observe.js';
import { viewOf, type VaultView } from './inspect.js';
import { plan } from './plan.js';
import { formatStale, type StaleCheck } from './stale.js';
import type { StepContext } from '../steps/context.js';
import { judgeProvisionerToken } from '../steps/tokens.js';
import { privilegedAuthRoles, type PrivilegedRole } from './privileged-roles.js';

export interface StatusReport {
  vault: VaultView;
  store: { kind: string; secrets: Array<{ name: string; versions: number }> };
  /** --self-init: the login the management token comes from (never its secret); null: keys and tokens are stored. */
  selfInit: { method: string; mount: string; role: string } | null;
  rootToken: 'stored' | 'revoked' | 'absent' | 'invalid';
  /** Records whose latest version is not a valid record, each in words (which version, whether an earlier one is intact). */
  invalidRecords: string[];
  /** The unseal/recovery keys' versions (never values): which one is active, whether a rotation is pending. */
  keys: {
    type: string | null;
    activeVersion: number | null;
    versions: number;
    pendingRotation: boolean;
    lastRotatedAt: string | null;
    initializedAt: string | null;
    encrypted: boolean;
  };
  provisionerToken: { state: string; expiresAt: string | null; ttlSeconds: number | null; policies: string[] };
  sealIntent: SealIntent | null;
  /** What the loop decides now (plan's answer): every guard in force shows here. */
  decision: { state: string; reason: string; blocker: string | null };
  /** Rotations or root generations in progress that no record of ours owns (cancel-stale cancels them). */
  staleOperations: StaleCheck;
  /** Auth roles and users that hand out admin, provisioner, vault-bootstrap or root at login; null when not looked at (server not unsealed, no token). */
  privilegedAuthRoles: PrivilegedRole[] | null;
}

/**
 * Vault health, store contents by name and version count (never values), token validity. Reads
 * each record once, in the inspecting style: a record that is not valid is reported (and shows
 * as the decision's blocker, as in plan), never a reason for status itself to fail.
 */
export async function status(context: StepContext): Promise<StatusReport> {
  const { records } = context;
  // One look at the server and the store: the view, the decision and the stale check all read it.
  const seen = await observe(context, context.config.policies);
  const vault = viewOf(context.vault.address.origin, seen.vault);
  const claims = seen.claim ?? (await records.inspectClaims());
  // Every claim generation made (-g2, -g3, …: takeovers), beside the records of secretNames.
  const names = [
    ...Object.values(records.names),
    ...Array.from({ length: Math.max(0, claims.generation - 1) }, (_, index) =>
      claimName(records.names.initClaim, index + 2),
    ),
  ];
  const secrets = await Promise.all(
    names.map(async (name) => ({ name, versions: (await records.store.listVersions(name)).length })),
  );
  const invalidRecords: string[] = [];
  const inspected = <T>(record: StoredRecord<T>): T | undefined => {
    if (record.kind === 'invalid') invalidRecords.push(describeInvalidRecord(record));
    return record.kind === 'valid' ? record.value : undefined;
  };
  const rootRecord = seen.rootToken ?? (await records.inspectRootToken());
  const root = inspected(rootRecord);
  const stored = inspected(seen.provisionerToken ?? (await records.inspectProvisionerToken()));
  let provisionerToken: StatusReport['provisionerToken'] = {
    state: 'missing',
    expiresAt: null,
    ttlSeconds: null,
    policies: [],
  };
  if (stored !== undefined) {
    provisionerToken = {
      state: 'unknown (Vault not unsealed)',
      expiresAt: stored.expiresAt,
      ttlSeconds: null,
      policies: stored.policies,
    };
    if (isUnsealed(vault.health)) {
      const verdict = await judgeProvisionerToken(context, stored);
      provisionerToken.state = verdict.kind;
      if (verdict.kind === 'valid' || verdict.kind === 'rotate') provisionerToken.ttlSeconds = verdict.info.ttlSeconds;
    }
  }
  const keysRecord = seen.keys ?? (await records.inspectUnsealKeys());
  inspected(keysRecord);
  // The versions' history only when the latest is a valid record (readUnsealKeyVersions refuses otherwise).
  const versions = keysRecord.kind === 'valid' ? await records.readUnsealKeyVersions() : undefined;
  const active = versions?.active?.record;
  const keys: StatusReport['keys'] = {
    type: (active ?? versions?.pending[0]?.record)?.type ?? null,
    activeVersion: versions?.active?.version ?? null,
    versions: versions?.count ?? secrets.find((secret) => secret.name === records.names.unsealKeys)?.versions ?? 0,
    pendingRotation: (versions?.pending.length ?? 0) > 0,
    lastRotatedAt: active?.rotatedAt ?? null,
    initializedAt: active?.initializedAt || null,
    encrypted: active?.encrypted === true,
  };
  const intent = inspected(seen.sealIntent ?? (await records.inspectSealIntent()));
  inspected(seen.managementToken ?? (await records.inspectManagementToken()));
  inspected(claims.record);
  const planned = await plan(context, seen);
  return {
    vault,
    store: { kind: records.store.kind, secrets },
    selfInit:
      context.config.selfInit === undefined
        ? null
        : {
            method: context.config.selfInit.method,
            mount: context.config.selfInit.mount,
            role: context.config.selfInit.role,
          },
    keys,
    rootToken:
      rootRecord.kind === 'invalid'
        ? 'invalid'
        : root === undefined
          ? 'absent'
          : root.token === null
            ? 'revoked'
            : 'stored',
    invalidRecords,
    provisionerToken,
    sealIntent: intent ?? null,
    decision: {
      state: planned.state,
      reason: planned.reason,
      blocker: planned.action.kind === 'hold' ? planned.action.blocker : null,
    },
    staleOperations: planned.staleOperations,
    privilegedAuthRoles: isUnsealed(vault.health) ? ((await privilegedAuthRoles(context)) ?? null) : null,
  };
}

/**
 * What in the report needs attention, one line each; everything else status prints is
 * information. A guard in force shows as the decision's blocker.
 */
export function problemsOf(report: StatusReport): string[] {
  const problems: string[] = [];
  const { vault } = report;
  const unsealed = isUnsealed(vault.health);
  if (!unsealed) problems.push(`the server is ${vault.health}${vault.error ? `: ${vault.error}` : ''}`);
  if (report.decision.blocker !== null)
    problems.push(`needs a person [${report.decision.blocker}]: ${report.decision.reason}`);
  if (report.sealIntent?.active)
    problems.push(
      `seal intent active since ${report.sealIntent.at} (${report.sealIntent.reason}): vault-bootstrap resume ends it`,
    );
  for (const record of report.invalidRecords) problems.push(`record not valid: ${record}`);
  if (report.keys.pendingRotation) problems.push('a key rotation is pending: re-run vault-bootstrap rotate-keys');
  if (unsealed && (report.provisionerToken.state === 'invalid' || report.provisionerToken.state === 'missing')) {
    problems.push(
      `the provisioner token is ${report.provisionerToken.state}: the sidecar issues a new one when it runs`,
    );
  }
  for (const role of report.privilegedAuthRoles ?? []) {
    problems.push(
      `${role.path} hands out ${role.policies.join(', ')} at login: whoever logs in there holds that power (README, "Reachable in several steps"); remove it unless an operator made it on purpose`,
    );
  }
  for (const operation of report.staleOperations.operations)
    problems.push(
      `a ${operation.operation} no record of ours owns is in progress: vault-bootstrap cancel-stale cancels it`,
    );
  return problems;
}

export function formatStatus(report: StatusReport): string {
  const { vault } = report;
  const problems = problemsOf(report);
  const lines = [
    problems.length === 0 ? 'problems   none' : `problems   ${problems.length}`,
    ...problems.map((problem) => `  ! ${problem}`),
    '',
    `vault      ${vault.address}: ${vault.health}${vault.status ? ` (HTTP ${vault.status})` : ''}${vault.version ? `, version ${vault.version}` : ''}${vault.error ? `: ${vault.error}` : ''}`,
  ];
  if (vault.seal) {
    lines.push(
      `seal       ${vault.seal.type}, ${vault.seal.initialized ? 'initialized' : 'not initialized'}, ${vault.seal.sealed ? 'sealed' : 'unsealed'}, threshold ${vault.seal.threshold} of ${vault.seal.shares}`,
    );
  }
  if (report.selfInit !== null) {
    const { method, mount, role } = report.selfInit;
    lines.push(
      `mode       self-init: the server initialized itself; no keys or root token are stored; the management token is a ${method} login at auth/${mount} (${method === 'approle' ? 'role ID' : 'role'} ${role})`,
    );
  }
  lines.push(`store      ${report.store.kind}`);
  for (const secret of report.store.secrets)
    lines.push(`  ${secret.name.padEnd(40)} ${secret.versions === 0 ? 'absent' : `${secret.versions} version(s)`}`);
  const { keys } = report;
  if (keys.versions > 0) {
    lines.push(
      `keys       ${keys.type ?? 'unknown'}${keys.encrypted ? ' (PGP-encrypted)' : ''}, active version ${keys.activeVersion ?? 'none'} of ${keys.versions}` +
        `${keys.pendingRotation ? ', rotation pending' : ''}, last rotated ${keys.lastRotatedAt ?? 'never'}${keys.initializedAt ? `, initialized ${keys.initializedAt}` : ''}`,
    );
  }
  lines.push(`root token ${report.rootToken}`);
  const token = report.provisionerToken;
  lines.push(
    `provisioner token ${token.state}${token.expiresAt ? `, expires ${token.expiresAt}` : ''}${token.ttlSeconds !== null ? `, ${token.ttlSeconds}s left` : ''}`,
  );
  const intent = report.sealIntent;
  lines.push(
    intent === null
      ? 'seal intent none'
      : `seal intent ${intent.active ? 'ACTIVE' : 'ended'}: by ${intent.by} at ${intent.at} (${intent.reason})`,
  );
  for (const operation of formatStale({ ...report.staleOperations, unchecked: [] }).split('\n'))
    lines.push(`operations ${operation}`);
  // Checks that could not run are information: a default OpenBao, for one, serves no unauthenticated generate-root endpoints.
  for (const reason of report.staleOperations.unchecked) lines.push(`note       not checked: ${reason}`);
  lines.push(
    `decision   ${report.decision.state}${report.decision.blocker ? ` [${report.decision.blocker}]` : ''}: ${report.decision.reason}`,
  );
  return lines.join('\n');
}
