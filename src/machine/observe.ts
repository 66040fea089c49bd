import { createHash } from 'node:crypto';
import { BootstrapError } from '../errors.js';
import type { StepContext } from '../steps/context.js';
import { auditDeviceDiffers, planConfiguration } from '../steps/configure.js';
import { resolveManagementToken } from '../steps/management-token.js';
import { judgeProvisionerToken } from '../steps/tokens.js';
import { renewalTime } from './token-stage.js';
import type { ManagementTokenRecord, ProvisionerToken, RootToken, SealIntent, StoredRecord } from '../store/records.js';
import { SERVER_TRAITS, serverKindOf, type ServerKind } from '../vault/servers.js';
import { downgradeOf, type HighestServer } from '../vault/server-version.js';
import { reconcileDue } from './cadence.js';
import { observeSealKeyRollout } from '../seal-key/rewrap.js';
import { EMPTY_MEMORY, type Memory, type Observation, type ServerSeen, type VaultSeen } from './decide.js';
import { classifyHealth, isUnsealed } from './health.js';
import { together } from '../wait.js';
import { snapshotLookDue } from './snapshots.js';
import { observeSnapshots } from '../snapshots/in-loop.js';

/**
 * One pass's look at the world: the server's health (and seal type where it matters), the
 * spool, and, when a full reconcile is due (cadence.ts), the store records this health kind
 * calls for and on an unsealed node what the server holds of our configuration. Reads only.
 * A cheap pass over a converged node makes one request, sys/health without a token, and
 * nothing else (what sys/seal-status said is known from the last reconcile: memory.ts). A full reconcile of a converged node adds five store reads (seal
 * intent, keys, provisioner, root and management tokens), a look-up of each stored token, one
 * read per policy, one of the token role and, on HashiCorp Vault, one of the audit devices. A
 * sealed node held by an active seal intent reads no keys.
 */
export async function observe(
  context: StepContext,
  policies: ReadonlyMap<string, string>,
  memory: Memory = EMPTY_MEMORY,
  at: number = Date.now(),
): Promise<Observation> {
  const { records } = context;
  const spool = await context.spool?.read();
  const vault = await observeHealth(context);
  const policyHashes = hashPolicies(policies);
  const reconcile = reconcileDue(vault, policyHashes, at, memory.converged, context.config.reconcileIntervalMs);
  // No reconcile due: the node is unsealed and unchanged since the converged reconcile, whose seal status stands.
  if (reconcile === undefined && memory.converged !== undefined) Object.assign(vault, memory.converged.sealStatus);
  else await observeSealStatus(context, vault);
  const seen: Observation = { at, vault, reconcile, spool, policyHashes };
  // --snapshot-interval: the active node looks at --snapshot-to when its schedule says so, cheap passes included.
  if (spool === undefined && snapshotLookDue(context.config.snapshots?.intervalMs, memory, vault.health, at))
    seen.snapshots = await observeSnapshots(context);
  if (spool !== undefined || reconcile === undefined) return seen;
  if (vault.health === 'uninitialized') {
    seen.keys = await records.inspectUnsealKeys();
    if (seen.keys.kind !== 'invalid') seen.claim = await records.inspectClaims();
  } else if (vault.health === 'sealed') {
    seen.sealIntent = await records.inspectSealIntent();
    if (isActive(seen.sealIntent)) return seen;
    seen.keys = await records.inspectUnsealKeys();
    if (seen.keys.kind === 'valid') seen.keyVersions = await records.readUnsealKeyVersions();
    // Initialized with no keys: our claim tells our lost init from someone else's.
    if (seen.keys.kind === 'absent') seen.claim = await records.inspectClaims();
  } else if (isUnsealed(vault.health)) {
    [seen.sealIntent, seen.keys] = await together([records.inspectSealIntent(), records.inspectUnsealKeys()]);
    // --self-init: the server keeps no keys with us; its cluster id record is the split-brain check.
    const selfInitialized = context.config.selfInit !== undefined && seen.keys.kind === 'absent';
    // An older release over newer data (the downgrade guard) is not asked anything more: it may not even serve.
    if (seen.keys.kind === 'valid' && !isActive(seen.sealIntent) && isDowngrade(vault, seen.keys.value.highestServer))
      return seen;
    if (selfInitialized) seen.selfInitCluster = await records.inspectSelfInitCluster();
    if (seen.keys.kind === 'valid' || selfInitialized) {
      [seen.provisionerToken, seen.rootToken, seen.managementToken] = await together([
        records.inspectProvisionerToken(),
        records.inspectRootToken(),
        records.inspectManagementToken(),
      ]);
      seen.server = await observeServer(
        context,
        seen.provisionerToken,
        seen.rootToken,
        seen.managementToken,
        policies,
        vault.serverKind,
        at,
      );
      if (vault.health === 'active' && vault.sealType === 'static')
        seen.sealKeyRollout = await observeSealKeyRollout(context);
    } else if (seen.keys.kind === 'absent') {
      seen.claim = await records.inspectClaims();
    }
  }
  return seen;
}

function isDowngrade(vault: VaultSeen, highest: HighestServer | undefined): boolean {
  return downgradeOf({ kind: vault.serverKind, version: vault.version }, highest, '') !== undefined;
}

function isActive(intent: StoredRecord<SealIntent>): boolean {
  return intent.kind === 'valid' && intent.value.active;
}

const NO_PROGRESS = Object.freeze({ progress: 0, nonce: '' });

/** sys/health: whether and how the node serves, its cluster id and version. The seal status fields stay at their defaults. */
async function observeHealth(context: StepContext): Promise<VaultSeen> {
  const { vault, signal } = context;
  let response;
  try {
    response = await vault.health({ signal });
  } catch (error) {
    if (!(error instanceof BootstrapError) || error.code !== 'VAULT_UNREACHABLE') throw error;
    return {
      health: 'unreachable',
      status: undefined,
      detail: error.message,
      clusterId: undefined,
      sealType: undefined,
      migration: false,
      unsealProgress: NO_PROGRESS,
      connectionsClosed: vault.closedConnections,
    };
  }
  const connectionsClosed = vault.closedConnections;
  const health = classifyHealth(response.status);
  const clusterId =
    typeof response.body.cluster_id === 'string' && response.body.cluster_id !== ''
      ? response.body.cluster_id
      : undefined;
  const seen: VaultSeen = {
    health,
    status: response.status,
    detail: health === 'unreachable' ? `health answered HTTP ${response.status}` : '',
    clusterId,
    sealType: undefined,
    migration: false,
    unsealProgress: NO_PROGRESS,
    connectionsClosed,
    serverKind: serverKindOf(response.body),
  };
  if (typeof response.body.version === 'string') seen.version = response.body.version;
  return seen;
}

/** sys/seal-status, for a node that answered as initialized or not, sealed or not: its seal type, migration, unseal progress and split. */
async function observeSealStatus(context: StepContext, seen: VaultSeen): Promise<void> {
  const { health } = seen;
  if (health !== 'uninitialized' && health !== 'sealed' && !isUnsealed(health)) return;
  const sealStatus = await context.vault.sealStatus({ signal: context.signal });
  seen.sealType = sealStatus.type;
  seen.migration = sealStatus.migration;
  if (health === 'sealed') seen.unsealProgress = { progress: sealStatus.progress, nonce: sealStatus.nonce };
  seen.seal = {
    initialized: sealStatus.initialized,
    sealed: sealStatus.sealed,
    threshold: sealStatus.threshold,
    shares: sealStatus.shares,
  };
}

async function observeServer(
  context: StepContext,
  provisioner: StoredRecord<ProvisionerToken>,
  root: StoredRecord<RootToken>,
  own: StoredRecord<ManagementTokenRecord>,
  policies: ReadonlyMap<string, string>,
  serverKind: ServerKind | undefined,
  at: number,
): Promise<ServerSeen> {
  let provisionerToken: ServerSeen['provisionerToken'] = provisioner.kind === 'absent' ? 'missing' : 'invalid';
  let provisionerRotateAt: number | undefined;
  // The token look-ups at once: reads, in no order that matters.
  const [verdict, management] = await together([
    provisioner.kind === 'valid' ? judgeProvisionerToken(context, provisioner.value) : undefined,
    resolveManagementToken(context, own, root, at),
  ]);
  if (verdict !== undefined) {
    provisionerToken = verdict.kind;
    if (verdict.kind !== 'invalid') provisionerRotateAt = renewalTime(verdict.info, at);
  }
  const known = {
    managementToken: management.source,
    ownManagementToken: management.own,
    provisionerToken,
    rootTokenLive: management.rootTokenLive,
    provisionerRotateAt,
    managementRenewAt: management.renewAt,
    ...(management.source === 'login' ? { loginToken: management.token } : {}),
    ...(management.loginProblem !== undefined ? { loginProblem: management.loginProblem } : {}),
  };
  if (management.token === undefined)
    return { ...known, policiesDiffering: [], roleDiffers: false, auditDiffers: false };
  const [changes, auditDiffers] = await together([
    planConfiguration(context, policies, management.token),
    serverKind !== undefined && SERVER_TRAITS[serverKind].auditThroughApi
      ? auditDeviceDiffers(context, management.token)
      : false,
  ]);
  return { ...known, policiesDiffering: changes.policiesWritten, roleDiffers: changes.roleWritten, auditDiffers };
}

/** The last policy set hashed and its hashes: the set is the same object from pass to pass until a reload changes it, so a cheap pass hashes nothing. */
let hashed: { policies: ReadonlyMap<string, string>; hashes: ReadonlyMap<string, string> } | undefined;

function hashPolicies(policies: ReadonlyMap<string, string>): ReadonlyMap<string, string> {
  if (hashed?.policies !== policies) {
    hashed = {
      policies,
      hashes: new Map(
        [...policies].map(([name, text]) => [name, createHash('sha256').update(text).digest('hex').slice(0, 16)]),
      ),
    };
  }
  return hashed.hashes;
}
