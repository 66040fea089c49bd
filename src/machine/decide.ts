import type { Config } from '../config.js';
import type { SecretNames } from '../store/types.js';
import type { ManagementTokenVerdict } from '../steps/management-token.js';
import type { PendingSecrets } from '../steps/spool.js';
import { describeInvalidRecord, type InitClaim, type ProvisionerToken, type RootToken, type SealIntent, type StoredRecord, type UnsealKeys } from '../store/records.js';
import type { ServerKind } from '../vault/servers.js';
import type { HealthKind } from './health.js';
import type { Blocker, State } from './states.js';

/** What one pass saw of the server. */
export interface VaultSeen {
  health: HealthKind;
  /** HTTP status of sys/health; undefined when nothing answered. */
  status: number | undefined;
  /** Why the server is unreachable, in words; empty otherwise. */
  detail: string;
  /** The cluster this node belongs to (an unsealed node says; a sealed one may not). */
  clusterId: string | undefined;
  /** From sys/seal-status: `shamir`, `static`, `transit`, … */
  sealType: string | undefined;
  /** sys/seal-status says a seal migration is in progress. */
  migration: boolean;
  /**
   * Established connections to the server closed so far. A server process that restarts closes
   * them all; a seal made in place closes none: unchanged since the node was seen unsealed, a
   * sealed node was sealed by someone while it kept running.
   */
  connectionsClosed: number;
  /** Which server answered (from its health body); undefined when nothing did. */
  serverKind?: ServerKind;
}

/** What an unsealed node holds of our configuration, read with the management token. */
export interface ServerSeen {
  /** Which stored token configures this server (steps/management-token.ts): never the provisioner (CI) token. */
  managementToken: 'management' | 'root' | 'none';
  /** The sidecar's own token ({prefix}-management-token) on this server. */
  ownManagementToken: ManagementTokenVerdict;
  /** Policies whose text on the server differs from ours (or that are missing). */
  policiesDiffering: string[];
  roleDiffers: boolean;
  /** HashiCorp Vault: the audit device the sidecar ensures is missing or differs. */
  auditDiffers: boolean;
  /** The stored provisioner token, looked up on this server with itself. */
  provisionerToken: 'missing' | 'invalid' | 'rotate' | 'valid';
  /** The stored root token is still accepted (matters with --root-token revoke). */
  rootTokenLive: boolean;
}

/**
 * Everything one pass observed. A store record is undefined when the pass had no need to
 * read it (an unreachable server needs none; the claim matters only before init).
 */
export interface Observation {
  /** Wall clock of the pass, ms; the only time decide() knows. */
  at: number;
  vault: VaultSeen;
  /** Keys a crashed or stopped process left in the spool, not yet stored. */
  spool: PendingSecrets | undefined;
  keys?: StoredRecord<UnsealKeys>;
  claim?: StoredRecord<InitClaim>;
  rootToken?: StoredRecord<RootToken>;
  provisionerToken?: StoredRecord<ProvisionerToken>;
  server?: ServerSeen;
  sealIntent?: StoredRecord<SealIntent>;
  /** Policy name → hash of our text, to tell a rejected text from a changed one. */
  policyHashes: ReadonlyMap<string, string>;
}

export interface PolicyRejection {
  textHash: string;
  message: string;
  at: number;
}

/**
 * The little that cannot be observed. Everything about a server is kept under the cluster id
 * it was learned on and dropped when the id changes (a wipe, a re-init, a DR redeploy).
 */
export interface Memory {
  clusterId: string | undefined;
  /** Since when a claim we lost has read empty (GCP writes a secret and its first version apart). */
  claimEmptySince: number | undefined;
  rejectedPolicies: ReadonlyMap<string, PolicyRejection>;
  /** When the server last refused the stored keys. */
  keysRejectedAt: number | undefined;
  /** This cluster was ready once in this process: a later write is a drift repair, not setup. */
  convergedOnce: boolean;
  /** This process initialized this node, or unsealed it with the stored keys: they are its keys. */
  opened: boolean;
  /** connectionsClosed when the node was last seen unsealed; dropped once it was unreachable or sealed on purpose. */
  unsealedAtCloses: number | undefined;
}

export const EMPTY_MEMORY: Memory = Object.freeze({
  clusterId: undefined,
  claimEmptySince: undefined,
  rejectedPolicies: new Map(),
  keysRejectedAt: undefined,
  convergedOnce: false,
  opened: false,
  unsealedAtCloses: undefined,
});

/** How soon to look again after a pass that changed nothing. */
export type Pace = 'fast' | 'join' | 'interval' | 'slow';

export type Action =
  | { kind: 'wait'; pace: Pace }
  | { kind: 'store-spooled' }
  | { kind: 'claim-and-init'; autoUnseal: boolean; shares: number; threshold: number }
  | { kind: 'join' }
  | { kind: 'unseal' }
  | { kind: 'configure'; policies: string[]; role: boolean; audit: boolean }
  | { kind: 'issue-management-token' }
  | { kind: 'renew-management-token' }
  | { kind: 'issue-token'; replaces: 'none' | 'invalid' | 'expiring' }
  | { kind: 'revoke-root' }
  | { kind: 'record-seal-intent' }
  | { kind: 'seal' }
  | { kind: 'record-cluster-id'; clusterId: string }
  | { kind: 'hold'; blocker: Blocker; pace: Pace }
  | { kind: 'done' };

export interface Decision {
  state: State;
  reason: string;
  action: Action;
}

/** The settings decide() reads: a slice of Config, so tests build one in a line. */
export interface DecideSettings {
  holder: string;
  allowReinit: boolean;
  claimStaleAfterMs: number;
  rootToken: 'store' | 'revoke';
  unsealKeysName: string;
  shamir: { shares: number; threshold: number };
  recovery: { shares: number; threshold: number };
}

export function decideSettings(config: Config, unsealKeysName: string): DecideSettings {
  return {
    holder: config.holder,
    allowReinit: config.allowReinit,
    claimStaleAfterMs: config.claimStaleAfterMs,
    rootToken: config.rootToken,
    unsealKeysName,
    shamir: { shares: config.secretShares, threshold: config.secretThreshold },
    recovery: { shares: config.recoveryShares, threshold: config.recoveryThreshold },
  };
}

/** Keys refused by the server, or a policy it rejected, are tried again this long after. */
export const RECHECK_AFTER_MS = 60_000;

/**
 * The memory to decide with after seeing `seen`: what was learned about another cluster is
 * dropped, and the seal watch follows what the node is now.
 */
export function remember(memory: Memory, seen: Observation): Memory {
  let next = memory;
  const clusterId = seen.vault.clusterId;
  if (seen.vault.health === 'uninitialized' && memory.clusterId !== undefined) {
    // Wiped: whatever comes next is another cluster, and this process may be the one to make it.
    next = { ...EMPTY_MEMORY, claimEmptySince: memory.claimEmptySince };
  } else if (clusterId !== undefined && clusterId !== memory.clusterId) {
    // The first id seen is the node this process set up or opened; a different one later is another cluster.
    next = memory.clusterId === undefined ? { ...memory, clusterId } : { ...EMPTY_MEMORY, clusterId, claimEmptySince: memory.claimEmptySince };
  }
  const { health, connectionsClosed } = seen.vault;
  let unsealedAtCloses = next.unsealedAtCloses;
  if (health === 'unreachable' || intentActive(seen)) unsealedAtCloses = undefined;
  else if (health !== 'sealed' && health !== 'uninitialized' && health !== 'unknown' && health !== 'removed') unsealedAtCloses = connectionsClosed;
  return unsealedAtCloses === next.unsealedAtCloses ? next : { ...next, unsealedAtCloses };
}

function intentActive(seen: Observation): SealIntent | undefined {
  return seen.sealIntent?.kind === 'valid' && seen.sealIntent.value.active ? seen.sealIntent.value : undefined;
}

/** The key type a seal calls for: Shamir unseal keys, or recovery keys for an auto-unseal seal. */
function keyTypeFor(sealType: string | undefined): 'shamir' | 'recovery' {
  return sealType === undefined || sealType === 'shamir' ? 'shamir' : 'recovery';
}

/**
 * The state machine of SPEC §1 as one pure function: what to do next, from what this pass
 * observed and the little that cannot be observed. `run` acts on it; `plan` prints it.
 * README's decision table is this function, rule for rule.
 */
export function decide(seen: Observation, memory: Memory, settings: DecideSettings): Decision {
  if (seen.spool !== undefined) return go('storing', 'keys waiting in the spool are stored before anything else', { kind: 'store-spooled' });
  const { vault } = seen;
  switch (vault.health) {
    case 'unreachable':
      return go('waiting', vault.detail || 'Vault unreachable', { kind: 'wait', pace: 'fast' });
    case 'unknown':
      return go('waiting', `unknown health status ${vault.status}: not acting on it`, { kind: 'wait', pace: 'fast' });
    case 'removed':
      return hold('node-removed', 'this node was removed from the raft cluster: re-join it or replace the pod');
    case 'uninitialized':
      return decideUninitialized(seen, settings);
    case 'sealed':
      return decideSealed(seen, memory, settings);
    default:
      return decideUnsealed(seen, memory, settings);
  }
}

function decideUninitialized(seen: Observation, settings: DecideSettings): Decision {
  const keys = required(seen.keys, 'keys');
  if (keys.kind === 'invalid') return hold('store-record-invalid', `${describeInvalidRecord(keys)}; not initializing because of it`);
  if (keys.kind === 'valid' && !settings.allowReinit) {
    return go('uninitialized', `keys exist in ${settings.unsealKeysName}: restore, don't init; waiting for this node to join the initialized cluster (--allow-reinit initializes anew)`, { kind: 'join' });
  }
  const claim = required(seen.claim, 'claim');
  if (claim.kind === 'invalid') return hold('store-record-invalid', `${describeInvalidRecord(claim)}; not initializing while the claim is unreadable`);
  const autoUnseal = seen.vault.sealType !== undefined && seen.vault.sealType !== 'shamir';
  const initialize: Action = { kind: 'claim-and-init', autoUnseal, ...(autoUnseal ? settings.recovery : settings.shamir) };
  const split = autoUnseal ? `${seen.vault.sealType} seal: recovery shares` : 'Shamir seal';
  if (claim.kind === 'absent') return go('uninitialized', `no claim yet; ${split}`, initialize);
  const { holder, claimedAt } = claim.value;
  if (holder === settings.holder) return go('uninitialized', `the claim is ours (${holder}); ${split}`, initialize);
  // A claim taken before the stored keys were made belongs to the cluster those keys open.
  const claimOfOldCluster = keys.kind === 'valid' && Date.parse(claimedAt) <= Date.parse(keys.value.initializedAt);
  if (settings.allowReinit && claimOfOldCluster) return go('uninitialized', `--allow-reinit: taking over the old cluster's claim; ${split}`, initialize);
  const ageMs = seen.at - Date.parse(claimedAt);
  if (!(ageMs < settings.claimStaleAfterMs) && keys.kind === 'absent') {
    return go('uninitialized', `the claim of ${holder} is stale (no keys stored since ${claimedAt}); ${split}`, initialize);
  }
  return go('uninitialized', `initialization is claimed by ${holder}; waiting for this node to join the cluster`, { kind: 'join' });
}

function decideSealed(seen: Observation, memory: Memory, settings: DecideSettings): Decision {
  const intent = intentActive(seen);
  if (intent !== undefined) {
    return go('sealed', `sealed on purpose by ${intent.by} at ${intent.at} (${intent.reason}): run vault-bootstrap resume to unseal`, { kind: 'hold', blocker: 'seal-intent', pace: 'interval' });
  }
  if (memory.unsealedAtCloses !== undefined && seen.vault.connectionsClosed === memory.unsealedAtCloses) {
    return go('sealed', 'sealed while its process kept running (not a restart): recording it as a seal intent; run vault-bootstrap resume to unseal', { kind: 'record-seal-intent' });
  }
  const keys = required(seen.keys, 'keys');
  if (keys.kind === 'invalid') return hold('store-record-invalid', describeInvalidRecord(keys));
  if (keys.kind === 'absent') return orphaned();
  const mismatch = sealMismatch(seen, keys.value, settings);
  if (mismatch !== undefined) return hold('seal-mismatch', mismatch);
  const sealType = seen.vault.sealType ?? 'shamir';
  if (sealType !== 'shamir') {
    return go('sealed', `the ${sealType} seal has not unsealed this node: check the seal's key service; recovery keys do not unseal`, { kind: 'hold', blocker: 'auto-unseal-sealed', pace: 'interval' });
  }
  if (memory.keysRejectedAt !== undefined && seen.at - memory.keysRejectedAt < RECHECK_AFTER_MS) {
    return hold('keys-rejected', `the server refused the keys in ${settings.unsealKeysName}: they are not this cluster's keys (README: recovery)`);
  }
  return go('sealed', `health 503; unsealing with up to ${keys.value.threshold} stored shares`, { kind: 'unseal' });
}

function decideUnsealed(seen: Observation, memory: Memory, settings: DecideSettings): Decision {
  const { health, clusterId } = seen.vault;
  if (intentActive(seen) !== undefined) return go('sealed', 'a seal intent is active: sealing this node too', { kind: 'seal' });
  const keys = required(seen.keys, 'keys');
  if (keys.kind === 'invalid') return hold('store-record-invalid', describeInvalidRecord(keys));
  if (keys.kind === 'absent') return orphaned();
  const mismatch = sealMismatch(seen, keys.value, settings);
  if (mismatch !== undefined) return hold('seal-mismatch', mismatch);
  if (keys.value.clusterId !== undefined && clusterId !== undefined && clusterId !== keys.value.clusterId) {
    return hold('cluster-mismatch', `this node belongs to cluster ${clusterId}, but ${settings.unsealKeysName} opens cluster ${keys.value.clusterId}: it initialized on its own or is pointed at the wrong store; not configuring it (README: recovery)`);
  }
  const server = required(seen.server, 'server');
  if (server.managementToken === 'none') {
    return hold('no-management-token', 'no valid token to configure with: the management token is missing or not accepted and the root token is revoked or invalid; run vault-bootstrap generate-root (README: recovery)');
  }
  const rejected = stillRejected(seen, memory);
  const policies = server.policiesDiffering.filter((name) => !rejected.has(name));
  if (policies.length > 0 || server.roleDiffers || server.auditDiffers) {
    const differing = [...policies.map((name) => `policy ${name}`), ...(server.roleDiffers ? ['token role provisioner'] : []), ...(server.auditDiffers ? ['audit device'] : [])];
    return go('configuring', `${memory.convergedOnce ? 'drift' : 'unsealed'} (${health}): ${differing.join(', ')} differ${differing.length === 1 ? 's' : ''} from the desired configuration`, {
      kind: 'configure',
      policies,
      role: server.roleDiffers,
      audit: server.auditDiffers,
    });
  }
  const own = server.ownManagementToken;
  if ((own === 'missing' || own === 'invalid') && server.rootTokenLive && health === 'active') {
    return go('issuing', own === 'missing' ? 'the sidecar has no management token of its own yet' : 'the stored management token is not valid on this server', { kind: 'issue-management-token' });
  }
  if (own === 'renew' && health === 'active') {
    return go('issuing', 'the management token is in the last third of its period', { kind: 'renew-management-token' });
  }
  const token = server.provisionerToken;
  if (token === 'missing' || token === 'invalid' || (token === 'rotate' && health === 'active')) {
    if (health === 'active') {
      const why = { missing: 'no provisioner token stored', invalid: 'the stored provisioner token is not valid on this server', rotate: 'the provisioner token is in the last third of its life' }[token];
      return go('issuing', why, { kind: 'issue-token', replaces: token === 'missing' ? 'none' : token === 'invalid' ? 'invalid' : 'expiring' });
    }
    return go('issuing', `this node is ${health}: waiting for the active node's sidecar to issue the provisioner token`, { kind: 'wait', pace: 'join' });
  }
  if (settings.rootToken === 'revoke' && server.rootTokenLive && server.managementToken === 'management' && health === 'active') {
    return go('issuing', '--root-token revoke: the management and provisioner tokens are stored and valid', { kind: 'revoke-root' });
  }
  if (keys.value.clusterId === undefined && clusterId !== undefined && memory.opened && health === 'active') {
    return go('configuring', `recording the cluster id in ${settings.unsealKeysName} (the split-brain check)`, { kind: 'record-cluster-id', clusterId });
  }
  if (rejected.size > 0) {
    // Re-checked at the normal pace: the pass writes nothing while the text is unchanged, and a fixed file is picked up soon.
    return hold('policy-rejected', [...rejected.values()].map((rejection) => rejection.message).join('; '), 'interval');
  }
  return go('ready', health === 'active' ? 'configured, provisioner token valid' : `configured, provisioner token valid (${health})`, { kind: 'done' });
}

/** Why the stored keys cannot serve this seal (a changed seal stanza, a migration), or undefined. */
function sealMismatch(seen: Observation, keys: UnsealKeys, settings: DecideSettings): string | undefined {
  if (seen.vault.migration) return `a seal migration is in progress: a person runs it; no keys are fed to it automatically (README: seal migration)`;
  const expected = keyTypeFor(seen.vault.sealType);
  if (keys.type === expected) return undefined;
  return `the server has a ${seen.vault.sealType ?? 'shamir'} seal, which takes ${expected} keys, but ${settings.unsealKeysName} holds ${keys.type} keys: the seal stanza changed (README: seal migration)`;
}

/** Policies the server rejected with the text we still hold, not yet due for another try. */
function stillRejected(seen: Observation, memory: Memory): Map<string, PolicyRejection> {
  const rejected = new Map<string, PolicyRejection>();
  for (const [name, rejection] of memory.rejectedPolicies) {
    const sameText = seen.policyHashes.get(name) === rejection.textHash;
    const stillDiffers = seen.server?.policiesDiffering.includes(name) ?? false;
    if (sameText && stillDiffers && seen.at - rejection.at < RECHECK_AFTER_MS) rejected.set(name, rejection);
  }
  return rejected;
}

function orphaned(): Decision {
  return {
    state: 'orphaned',
    reason:
      'Vault is initialized but no keys are in the store and none are in flight: restore the keys secret from a backup or an earlier version, ' +
      'or wipe the server storage and run again to initialize anew (README: recovery)',
    action: { kind: 'hold', blocker: 'orphaned', pace: 'interval' },
  };
}

function go(state: State, reason: string, action: Action): Decision {
  return { state, reason, action };
}

function hold(blocker: Blocker, reason: string, pace: Pace = 'slow'): Decision {
  return { state: 'blocked', reason, action: { kind: 'hold', blocker, pace } };
}

function required<T>(value: T | undefined, what: string): T {
  // observe() reads what each health kind needs; a gap here is a bug, not a server state.
  if (value === undefined) throw new Error(`decide: the observation lacks ${what}`);
  return value;
}

/** One line per action, for plan and the act log. */
export function describeAction(action: Action, names: SecretNames): string {
  switch (action.kind) {
    case 'wait':
      return `wait (${action.pace})`;
    case 'store-spooled':
      return `store the spooled keys in ${names.unsealKeys} and ${names.rootToken}, then remove the spool`;
    case 'claim-and-init':
      return `claim ${names.initClaim}, initialize (${action.shares} ${action.autoUnseal ? 'recovery shares' : 'shares'}, threshold ${action.threshold}), store ${names.unsealKeys} and ${names.rootToken}`;
    case 'join':
      return 'wait for this node to join the cluster (raft retry_join, or --raft-join)';
    case 'unseal':
      return `unseal with the shares in ${names.unsealKeys}`;
    case 'configure':
      return [...action.policies.map((name) => `write policy ${name}`), ...(action.role ? ['write token role provisioner'] : []), ...(action.audit ? ['enable the audit device'] : [])].join(', ');
    case 'issue-management-token':
      return `issue the management token with the root token, store it in ${names.managementToken}`;
    case 'renew-management-token':
      return `renew the management token in ${names.managementToken}`;
    case 'issue-token':
      return `issue a provisioner token, store it in ${names.provisionerToken}${action.replaces === 'none' ? '' : ', then revoke the old one'}`;
    case 'revoke-root':
      return `revoke the root token and mark ${names.rootToken} revoked`;
    case 'record-seal-intent':
      return `record a seal intent in ${names.sealIntent} (sealed while running) and keep the node sealed`;
    case 'seal':
      return 'seal this node (a seal intent is active)';
    case 'record-cluster-id':
      return `add the cluster id to ${names.unsealKeys}`;
    case 'hold':
      return `hold: ${action.blocker} (nothing changes until a person acts)`;
    case 'done':
      return 'nothing to change';
  }
}
