import { createHash } from 'node:crypto';
import { BootstrapError } from '../errors.js';
import type { StepContext } from '../steps/context.js';
import { planConfiguration } from '../steps/configure.js';
import { judgeProvisionerToken, rotationTime } from '../steps/tokens.js';
import type { Secret } from '../secret.js';
import type { ProvisionerToken, RootToken, SealIntent, StoredRecord } from '../store/records.js';
import { reconcileDue } from './cadence.js';
import { EMPTY_MEMORY, type Memory, type Observation, type ServerSeen, type VaultSeen } from './decide.js';
import { classifyHealth, isUnsealed } from './health.js';

/**
 * One pass's look at the world: the server's health (and seal type where it matters), the
 * spool, and, when a full reconcile is due (cadence.ts), the store records this health kind
 * calls for and on an unsealed node what the server holds of our configuration. Reads only.
 * A cheap pass over a converged node makes sys/health and sys/seal-status, both without a
 * token, and nothing else. A full reconcile of a converged node adds four store reads (seal
 * intent, keys, provisioner token, root token), two token look-ups, one read per policy and
 * one of the token role. A sealed node held by an active seal intent reads no keys.
 */
export async function observe(context: StepContext, policies: ReadonlyMap<string, string>, memory: Memory = EMPTY_MEMORY, at: number = Date.now()): Promise<Observation> {
  const { records } = context;
  const spool = await context.spool?.read();
  const vault = await observeVault(context);
  const policyHashes = hashPolicies(policies);
  const reconcile = reconcileDue(vault, policyHashes, at, memory.converged, context.config.reconcileIntervalMs);
  const seen: Observation = { at, vault, reconcile, spool, policyHashes };
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
    seen.sealIntent = await records.inspectSealIntent();
    seen.keys = await records.inspectUnsealKeys();
    if (seen.keys.kind === 'valid') {
      seen.provisionerToken = await records.inspectProvisionerToken();
      seen.rootToken = await records.inspectRootToken();
      seen.server = await observeServer(context, seen.provisionerToken, seen.rootToken, policies, at);
    }
    if (seen.keys.kind === 'absent') seen.claim = await records.inspectClaims();
  }
  return seen;
}

function isActive(intent: StoredRecord<SealIntent>): boolean {
  return intent.kind === 'valid' && intent.value.active;
}

const NO_PROGRESS = Object.freeze({ progress: 0, nonce: '' });

async function observeVault(context: StepContext): Promise<VaultSeen> {
  const { vault, signal } = context;
  let response;
  try {
    response = await vault.health({ signal });
  } catch (error) {
    if (!(error instanceof BootstrapError) || error.code !== 'VAULT_UNREACHABLE') throw error;
    return { health: 'unreachable', status: undefined, detail: error.message, clusterId: undefined, sealType: undefined, migration: false, unsealProgress: NO_PROGRESS, connectionsClosed: vault.closedConnections };
  }
  const connectionsClosed = vault.closedConnections;
  const health = classifyHealth(response.status);
  const clusterId = typeof response.body.cluster_id === 'string' && response.body.cluster_id !== '' ? response.body.cluster_id : undefined;
  const seen: VaultSeen = { health, status: response.status, detail: health === 'unreachable' ? `health answered HTTP ${response.status}` : '', clusterId, sealType: undefined, migration: false, unsealProgress: NO_PROGRESS, connectionsClosed };
  if (health === 'uninitialized' || health === 'sealed' || isUnsealed(health)) {
    const sealStatus = await vault.sealStatus({ signal });
    seen.sealType = sealStatus.type;
    seen.migration = sealStatus.migration;
    if (health === 'sealed') seen.unsealProgress = { progress: sealStatus.progress, nonce: sealStatus.nonce };
  }
  return seen;
}

async function observeServer(
  context: StepContext,
  provisioner: StoredRecord<ProvisionerToken>,
  root: StoredRecord<RootToken>,
  policies: ReadonlyMap<string, string>,
  at: number,
): Promise<ServerSeen> {
  const { vault, signal } = context;
  let provisionerToken: ServerSeen['provisionerToken'] = provisioner.kind === 'absent' ? 'missing' : 'invalid';
  let provisionerSecret: Secret | undefined;
  let provisionerRotateAt: number | undefined;
  if (provisioner.kind === 'valid') {
    const verdict = await judgeProvisionerToken(context, provisioner.value);
    provisionerToken = verdict.kind;
    if (verdict.kind !== 'invalid') {
      provisionerSecret = provisioner.value.token;
      provisionerRotateAt = rotationTime(verdict.info, at);
    }
  }
  const rootSecret = root.kind === 'valid' ? root.value.token : null;
  const rootTokenLive = rootSecret !== null && (await vault.lookupSelf(rootSecret, { signal })) !== undefined;
  const management = rootTokenLive ? rootSecret : provisionerSecret;
  if (management === undefined || management === null) {
    return { managementToken: 'none', policiesDiffering: [], roleDiffers: false, provisionerToken, rootTokenLive, provisionerRotateAt };
  }
  const changes = await planConfiguration(context, policies, management);
  return {
    managementToken: rootTokenLive ? 'root' : 'provisioner',
    policiesDiffering: changes.policiesWritten,
    roleDiffers: changes.roleWritten,
    provisionerToken,
    rootTokenLive,
    provisionerRotateAt,
  };
}

function hashPolicies(policies: ReadonlyMap<string, string>): Map<string, string> {
  return new Map([...policies].map(([name, text]) => [name, createHash('sha256').update(text).digest('hex').slice(0, 16)]));
}
