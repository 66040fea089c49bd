import { checkpoint } from '../checkpoints.js';
import { BootstrapError } from '../errors.js';
import type { Secret } from '../secret.js';
import type { ManagementTokenRecord, RootToken, StoredRecord } from '../store/records.js';
import { ensureManagementRole, MANAGEMENT_POLICY, MANAGEMENT_ROLE } from './configure.js';
import type { StepContext } from './context.js';
import { together } from '../wait.js';
import { retryUntilStored } from './store-secrets.js';
import { tokenRecord } from './tokens.js';
import { renewalTime, tokenStage } from '../machine/token-stage.js';

/** The stored management token as this server sees it: `reissue` once a third of its life is left. */
export type ManagementTokenVerdict = 'missing' | 'invalid' | 'reissue' | 'valid';

export interface ManagementTokenChoice {
  /** What configuring, sealing and drift repair work with; undefined when no stored token works. */
  token: Secret | undefined;
  source: 'management' | 'root' | 'login' | 'none';
  /** --self-init: why the server refused the login, in its words. */
  loginProblem?: string;
  own: ManagementTokenVerdict;
  /** The stored root token is still accepted (matters with --root-token revoke). */
  rootTokenLive: boolean;
  /** When the own token enters the last third of its life (a full reconcile is due then). */
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
  own: StoredRecord<ManagementTokenRecord>,
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
  if (own.kind === 'valid') {
    const stage = tokenStage(info, MANAGEMENT_POLICY);
    verdict = stage === 'renew' ? 'reissue' : stage;
    if (info !== undefined && stage !== 'invalid') renewAt = renewalTime(info, at);
  }
  const rootTokenLive = rootInfo !== undefined;
  if (context.login !== undefined) {
    const login = await context.login.token(context);
    if (login.kind === 'token') return { token: login.token, source: 'login', own: verdict, rootTokenLive, renewAt };
    return { token: undefined, source: 'none', loginProblem: login.problem, own: verdict, rootTokenLive, renewAt };
  }
  if ((verdict === 'valid' || verdict === 'reissue') && own.kind === 'valid')
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
 * Issues the sidecar's own token through the token role vault-bootstrap-management (orphan, the
 * management policy only, not renewable, an explicit max TTL of --provisioner-ttl), with the
 * root token at first, or with the token it replaces once that one is in the last third of its
 * life. Stored before anything else uses it (it exists only in memory until then); only then is
 * the replaced token revoked, with itself, so no capability to revoke other tokens is needed. A
 * crash between the two leaves the old token to expire by itself, at most a third of a period later.
 */
export async function issueManagementToken(
  context: StepContext,
  issuer: Secret,
  replaced?: ManagementTokenRecord,
): Promise<void> {
  const { vault, records, log, config } = context;
  const lifetimeSeconds = Math.round(config.provisionerTtlMs / 1000);
  await ensureManagementRole(context, issuer);
  const issued = await context.secretsInFlight.hold(async () => {
    const created = await vault.createTokenWithRole(
      MANAGEMENT_ROLE,
      lifetimeSeconds,
      'vault-bootstrap-management',
      issuer,
    );
    checkpoint('management-token-created');
    const record: ManagementTokenRecord = tokenRecord(created, lifetimeSeconds);
    await retryUntilStored(context, 'store-management-token', 'storing the management token failed; retrying', () =>
      records.writeManagementToken(record),
    );
    return record;
  });
  log.info(
    { event: 'management-token-issued', secret: records.names.managementToken, expiresAt: issued.expiresAt },
    'management token issued and stored',
  );
  if (replaced === undefined) return;
  checkpoint('management-token-stored');
  await vault.revokeSelf(replaced.token);
  log.info({ event: 'management-token-revoked' }, 'previous management token revoked');
}
