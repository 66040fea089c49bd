import { checkpoint } from '../checkpoints.js';
import type { Secret } from '../secret.js';
import type { ProvisionerToken, RootToken } from '../store/records.js';
import type { TokenInfo } from '../vault/api.js';
import { tokenStage } from '../machine/token-stage.js';
import { PROVISIONER_POLICY, PROVISIONER_ROLE } from './configure.js';
import type { StepContext } from './context.js';
import { retryUntilStored } from './store-secrets.js';

export type ProvisionerTokenState =
  | { kind: 'missing' }
  | { kind: 'invalid'; stored: ProvisionerToken }
  | { kind: 'rotate'; stored: ProvisionerToken; info: TokenInfo }
  | { kind: 'valid'; stored: ProvisionerToken; info: TokenInfo };

/** The verdict on a stored provisioner token, from looking it up on this server with itself (token-stage.ts judges it). */
export async function judgeProvisionerToken(
  context: StepContext,
  stored: ProvisionerToken,
): Promise<Exclude<ProvisionerTokenState, { kind: 'missing' }>> {
  const info = await context.vault.lookupSelf(stored.token, { signal: context.signal });
  const stage = tokenStage(info, PROVISIONER_POLICY);
  if (info === undefined || stage === 'invalid') return { kind: 'invalid', stored };
  return { kind: stage === 'renew' ? 'rotate' : 'valid', stored, info };
}

/** The stored form of a token just created: what CI (or the sidecar) needs, and when it expires. */
export function tokenRecord(
  created: Pick<ProvisionerToken, 'token' | 'accessor' | 'policies'>,
  lifetimeSeconds: number,
): ProvisionerToken {
  return {
    token: created.token,
    accessor: created.accessor,
    policies: created.policies,
    expiresAt: new Date(Date.now() + lifetimeSeconds * 1000).toISOString(),
  };
}

/**
 * What becomes of the token a rotation replaces (--provisioner-overlap): a token the server no
 * longer takes is revoked at once (harmless); one rotated out in the last third of its life stays
 * valid for CI jobs that hold it, until it expires by itself (`expiry`, the default) or until
 * the overlap ends, whichever is first; an overlap of 0 revokes it as soon as the new one is stored.
 */
export function previousTokenPlan(
  replaces: 'invalid' | 'expiring',
  overlapMs: number | undefined,
  replacedExpiresAt: string,
  now: number,
): { kind: 'revoke-now' } | { kind: 'expires' } | { kind: 'revoke-at'; at: number } {
  if (replaces === 'invalid' || overlapMs === 0) return { kind: 'revoke-now' };
  const expires = Date.parse(replacedExpiresAt);
  if (overlapMs === undefined || (!Number.isNaN(expires) && now + overlapMs >= expires)) return { kind: 'expires' };
  return { kind: 'revoke-at', at: now + overlapMs };
}

/**
 * Issues a provisioner token through the role, stores it as a new version (retrying until
 * stored), then revokes the one it replaces. The token exists only in memory between
 * creation and storage, so that stretch counts as secrets in flight.
 */
export async function issueProvisionerToken(
  context: StepContext,
  managementToken: Secret,
  replaced: ProvisionerToken | undefined,
  replaces: 'none' | 'invalid' | 'expiring' = 'expiring',
): Promise<ProvisionerToken> {
  const { vault, records, log, config } = context;
  const ttlSeconds = Math.round(config.provisionerTtlMs / 1000);
  const plan =
    replaced === undefined || replaces === 'none'
      ? undefined
      : previousTokenPlan(replaces, config.provisionerOverlapMs, replaced.expiresAt, Date.now());
  const issued = await context.secretsInFlight.hold(async () => {
    const created = await vault.createTokenWithRole(
      PROVISIONER_ROLE,
      ttlSeconds,
      'vault-bootstrap-provisioner',
      managementToken,
    );
    checkpoint('token-created');
    const record: ProvisionerToken = {
      ...tokenRecord(created, ttlSeconds),
      ...(plan?.kind === 'revoke-at'
        ? { previous: { accessor: replaced!.accessor, revokeAt: new Date(plan.at).toISOString() } }
        : {}),
    };
    await retryUntilStored(context, 'store-provisioner-token', 'storing the provisioner token failed; retrying', () =>
      records.writeProvisionerToken(record),
    );
    return record;
  });
  log.info(
    { event: 'provisioner-token-issued', expiresAt: issued.expiresAt, secret: records.names.provisionerToken },
    'provisioner token issued and stored',
  );
  checkpoint('token-stored');
  if (replaced !== undefined && plan?.kind === 'revoke-now') {
    await vault.revokeAccessor(replaced.accessor, managementToken, { signal: context.signal });
    log.info(
      { event: 'provisioner-token-revoked', expiresAt: replaced.expiresAt },
      'previous provisioner token revoked',
    );
  } else if (replaced !== undefined && plan !== undefined) {
    const until = plan.kind === 'revoke-at' ? new Date(plan.at).toISOString() : replaced.expiresAt;
    log.info(
      { event: 'provisioner-token-overlap', until, how: plan.kind },
      'previous provisioner token left valid for CI jobs holding it (--provisioner-overlap)',
    );
  }
  return issued;
}

/** --provisioner-overlap: the rotated-out token's overlap ended; revoke it, then drop it from the record. */
export async function revokePreviousProvisionerToken(
  context: StepContext,
  record: ProvisionerToken & { previous: { accessor: string; revokeAt: string } },
  managementToken: Secret,
): Promise<void> {
  await context.vault.revokeAccessor(record.previous.accessor, managementToken, { signal: context.signal });
  const { previous: _revoked, ...current } = record;
  await context.records.writeProvisionerToken(current);
  context.log.info(
    { event: 'provisioner-token-revoked', revokeAt: record.previous.revokeAt },
    'previous provisioner token revoked: its overlap ended',
  );
}

/** --root-token revoke: revoke the root token once the management and provisioner tokens work; keep the record, marked revoked. */
export async function revokeRootToken(context: StepContext, root: RootToken & { token: Secret }): Promise<void> {
  await context.vault.revokeSelf(root.token);
  await context.records.writeRootToken({ token: null, createdAt: root.createdAt, revokedAt: new Date().toISOString() });
  context.log.info(
    { event: 'root-token-revoked', secret: context.records.names.rootToken },
    'root token revoked; the sidecar works with its management token',
  );
}
