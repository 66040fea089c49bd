import { checkpoint } from '../checkpoints.js';
import { BootstrapError } from '../errors.js';
import type { Secret } from '../secret.js';
import type { ManagementToken, RootToken, StoredRecord } from '../store/records.js';
import type { StepContext } from './context.js';
import { together } from '../wait.js';
import { retryUntilStored } from './store-secrets.js';
import { rotationTime, tokenRecord } from './tokens.js';

/** The policy of the sidecar's own token (policies/vault-bootstrap.hcl). */
export const MANAGEMENT_POLICY = 'vault-bootstrap';

/** The stored management token as this server sees it: `renew` once a third of its period is left. */
export type ManagementTokenVerdict = 'missing' | 'invalid' | 'renew' | 'valid';

export interface ManagementTokenChoice {
  /** What configuring, sealing and drift repair work with; undefined when no stored token works. */
  token: Secret | undefined;
  source: 'management' | 'root' | 'login' | 'none';
  /** --self-init: why the server refused the login, in its words. */
  loginProblem?: string;
  own: ManagementTokenVerdict;
  /** The stored root token is still accepted (matters with --root-token revoke). */
  rootTokenLive: boolean;
  /** When the own token enters the last third of its period (a full reconcile is due then). */
  renewAt: number | undefined;
}

/**
 * Where the management token comes from, in one place: with --self-init, a login through the
 * auth method the server's initialize stanzas declare (no root token ever exists there);
 * otherwise the sidecar's own token ({prefix}-management-token) while the server takes it, else
 * the root token while it lives (which issues the own token). Never the provisioner (CI) token:
 * with none, a person runs generate-root. Reads nothing from the store: the caller hands in the
 * records it read.
 */
export async function resolveManagementToken(
  context: StepContext,
  own: StoredRecord<ManagementToken>,
  root: StoredRecord<RootToken>,
  at: number = Date.now(),
): Promise<ManagementTokenChoice> {
  const { vault, signal } = context;
  let verdict: ManagementTokenVerdict = own.kind === 'absent' ? 'missing' : 'invalid';
  let renewAt: number | undefined;
  const rootSecret = root.kind === 'valid' ? root.value.token : null;
  // Both look-ups at once: reads.
  const [info, rootInfo] = await together([
    own.kind === 'valid' ? vault.lookupSelf(own.value.token, { signal }) : undefined,
    rootSecret !== null ? vault.lookupSelf(rootSecret, { signal }) : undefined,
  ]);
  if (info !== undefined && info.policies.includes(MANAGEMENT_POLICY)) {
    verdict = info.creationTtlSeconds > 0 && info.ttlSeconds * 3 < info.creationTtlSeconds ? 'renew' : 'valid';
    renewAt = rotationTime(info, at);
  }
  const rootTokenLive = rootInfo !== undefined;
  if (context.login !== undefined) {
    const login = await context.login.token(context);
    if (login.kind === 'token') return { token: login.token, source: 'login', own: verdict, rootTokenLive, renewAt };
    return { token: undefined, source: 'none', loginProblem: login.problem, own: verdict, rootTokenLive, renewAt };
  }
  if ((verdict === 'valid' || verdict === 'renew') && own.kind === 'valid')
    return { token: own.value.token, source: 'management', own: verdict, rootTokenLive, renewAt };
  if (rootTokenLive && rootSecret !== null)
    return { token: rootSecret, source: 'root', own: verdict, rootTokenLive, renewAt };
  return { token: undefined, source: 'none', own: verdict, rootTokenLive, renewAt };
}

/** The token to configure, seal and repair with now (reads the two records); NO_MANAGEMENT_TOKEN when none works. */
export async function managementToken(
  context: StepContext,
): Promise<{ token: Secret; source: 'management' | 'root' | 'login' }> {
  const { records } = context;
  const choice = await resolveManagementToken(
    context,
    await records.inspectManagementToken(),
    await records.inspectRootToken(),
  );
  if (choice.loginProblem !== undefined)
    throw new BootstrapError(
      'NO_MANAGEMENT_TOKEN',
      `--self-init: the server refused the sidecar's login: ${choice.loginProblem}`,
    );
  if (choice.token === undefined || choice.source === 'none') {
    throw new BootstrapError(
      'NO_MANAGEMENT_TOKEN',
      `no valid token to configure with: ${records.names.managementToken} is missing or not accepted and the root token is revoked or invalid; run vault-bootstrap generate-root (README: recovery)`,
    );
  }
  return { token: choice.token, source: choice.source };
}

/**
 * Issues the sidecar's own token with the root token: orphan, periodic (its period is
 * --provisioner-ttl, renewed when a third is left), the management policy only. Stored
 * before anything else uses it; it exists only in memory until then.
 */
export async function issueManagementToken(context: StepContext, rootToken: Secret): Promise<void> {
  const { vault, records, log, config } = context;
  const periodSeconds = Math.round(config.provisionerTtlMs / 1000);
  await context.secretsInFlight.hold(async () => {
    const created = await vault.createPeriodicToken(
      [MANAGEMENT_POLICY],
      periodSeconds,
      'vault-bootstrap-management',
      rootToken,
    );
    checkpoint('management-token-created');
    const record: ManagementToken = tokenRecord(created, periodSeconds);
    await retryUntilStored(context, 'store-management-token', 'storing the management token failed; retrying', () =>
      records.writeManagementToken(record),
    );
  });
  log.info({ secret: records.names.managementToken }, 'management token issued and stored');
}

/** Renews the sidecar's own token for another period, and records the new expiry. */
export async function renewManagementToken(context: StepContext, stored: ManagementToken): Promise<void> {
  const { vault, records, log, config, signal } = context;
  await vault.renewSelf(stored.token, { signal });
  const expiresAt = new Date(Date.now() + config.provisionerTtlMs).toISOString();
  await records.writeManagementToken({ ...stored, expiresAt });
  log.info({ secret: records.names.managementToken, expiresAt }, 'management token renewed');
}
