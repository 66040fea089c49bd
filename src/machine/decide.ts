import type { Config } from '../config.js';
import { BootstrapError } from '../errors.js';
import type { Secret } from '../secret.js';
import type { SecretNames } from '../store/types.js';
import type { ManagementTokenVerdict } from '../steps/management-token.js';
import type { PendingSecrets } from '../steps/spool.js';
import { claimName, describeInvalidRecord, keyTypeFor, type ClaimSeen, type InitClaim, type ManagementToken as ManagementTokenRecord, type ProvisionerToken, type RootToken, type SealIntent, type SelfInitCluster, type StoredRecord, type UnsealKeys, type UnsealKeyVersions } from '../store/records.js';
import type { ServerKind } from '../vault/servers.js';
import type { Converged } from './cadence.js';
import type { HealthKind } from './health.js';
import type { Blocker, State } from '../states.js';

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
  /** Unseal shares the server holds now (sys/seal-status `progress`, with its `nonce`): 0 unless someone started. */
  unsealProgress: { progress: number; nonce: string };
  /** What `status` shows besides: the server's version (sys/health) and its seal split (sys/seal-status). */
  version?: string;
  seal?: { initialized: boolean; sealed: boolean; threshold: number; shares: number };
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
  /** Which token configures this server (steps/management-token.ts): the sidecar's own, the root token, or (--self-init) a login's; never the provisioner (CI) token. */
  managementToken: 'management' | 'root' | 'login' | 'none';
  /** The sidecar's own token ({prefix}-management-token) on this server. */
  ownManagementToken: ManagementTokenVerdict;
  /** --self-init: the token the login gave (held in memory only). */
  loginToken?: Secret;
  /** --self-init: why the login was refused, in the server's words. */
  loginProblem?: string;
  /** Policies whose text on the server differs from ours (or that are missing). */
  policiesDiffering: string[];
  roleDiffers: boolean;
  /** HashiCorp Vault: the audit device the sidecar ensures is missing or differs. */
  auditDiffers: boolean;
  /** The stored provisioner token, looked up on this server with itself. */
  provisionerToken: 'missing' | 'invalid' | 'rotate' | 'valid';
  /** The stored root token is still accepted (matters with --root-token revoke). */
  rootTokenLive: boolean;
  /** When the stored provisioner token enters the last third of its life (a reconcile is due then). */
  provisionerRotateAt?: number;
  /** When the management token enters the last third of its period, as looked up (a full reconcile is due then). */
  managementRenewAt?: number;
}

/**
 * Everything one pass observed. A store record is undefined when the pass had no need to
 * read it (an unreachable server needs none; the claim matters only before init; a cheap pass
 * over a converged node reads none; a sealed node held by an active seal intent needs no keys).
 */
export interface Observation {
  /** Wall clock of the pass, ms; the only time decide() knows. */
  at: number;
  vault: VaultSeen;
  /**
   * Why this pass reconciled in full (store records, tokens, configuration: cadence.ts), or
   * undefined for a cheap pass: health only, over a node converged and unchanged since.
   */
  reconcile: string | undefined;
  /** Keys a crashed or stopped process left in the spool, not yet stored. */
  spool: PendingSecrets | undefined;
  keys?: StoredRecord<UnsealKeys>;
  /** Every version of valid keys, read when the node is sealed: which one to unseal with. */
  keyVersions?: UnsealKeyVersions;
  /** The newest init claim generation, read before init. */
  claim?: ClaimSeen;
  rootToken?: StoredRecord<RootToken>;
  provisionerToken?: StoredRecord<ProvisionerToken>;
  /** The sidecar's own token ({prefix}-management-token). */
  managementToken?: StoredRecord<ManagementTokenRecord>;
  server?: ServerSeen;
  sealIntent?: StoredRecord<SealIntent>;
  /** --self-init: the cluster id recorded on first sight. */
  selfInitCluster?: StoredRecord<SelfInitCluster>;
  /** OpenBao static seal from `seal-key` (read on an active node with a static seal): key ids only. */
  sealKeyRollout?: SealKeyRolloutSeen;
  /** Policy name → hash of our text, to tell a rejected text from a changed one. */
  policyHashes: ReadonlyMap<string, string>;
}

/**
 * What an active static-seal node's sidecar reads of the seal key records: the newest stored key,
 * the key this pod's `seal-key` wrote as current at its last start (its server has run with it
 * since), and the newest key the stored keys are recorded as re-wrapped with.
 */
export interface SealKeyRolloutSeen {
  newestKeyId: string | undefined;
  ownKeyId: string | undefined;
  rewrappedKeyId: string | undefined;
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
  /**
   * A claim generation we lost the create of but cannot read yet, and since when: GCP writes a
   * secret and its first version apart, and a writer that died between the two leaves it empty.
   */
  unreadableClaim: { generation: number; since: number } | undefined;
  /**
   * The stored keys this process found first (their initializedAt): the old cluster that
   * --allow-reinit replaces. Keys stored later are a racing replica's new cluster.
   */
  keysFoundFirst: string | undefined;
  rejectedPolicies: ReadonlyMap<string, PolicyRejection>;
  /** Key versions (1-based) the server refused, from zero progress, and when. */
  refusedKeys: ReadonlyMap<number, number>;
  /** This cluster was ready once in this process: a later write is a drift repair, not setup. */
  convergedOnce: boolean;
  /** This process initialized this node, or unsealed it with the stored keys: they are its keys. */
  opened: boolean;
  /** connectionsClosed when the node was last seen unsealed; dropped once it was unreachable or sealed on purpose. */
  unsealedAtCloses: number | undefined;
  /** What the last full reconcile that found nothing to do saw; cheap passes compare with it (cadence.ts). */
  converged: Converged | undefined;
  /** The seal type the node last reported: while it does not answer, whether a KMS may be why. */
  sealType: string | undefined;
  /** Since when the server has not answered (a pass's `at`); undefined while it answers. */
  unreachableSince: number | undefined;
  /** When the server last refused the stored Shamir keys as its recovery keys after a seal migration. */
  migratedKeysRefusedAt: number | undefined;
}

export const EMPTY_MEMORY: Memory = Object.freeze({
  clusterId: undefined,
  unreadableClaim: undefined,
  keysFoundFirst: undefined,
  rejectedPolicies: new Map(),
  refusedKeys: new Map(),
  convergedOnce: false,
  opened: false,
  unsealedAtCloses: undefined,
  converged: undefined,
  sealType: undefined,
  unreachableSince: undefined,
  migratedKeysRefusedAt: undefined,
});

/** How soon to look again after a pass that changed nothing. */
export type Pace = 'fast' | 'join' | 'interval' | 'slow';

/** The token a write to the server is made with, chosen by decide() from what observe() found valid. */
export interface ManagementToken {
  source: 'management' | 'root' | 'login';
  token: Secret;
}

/**
 * How the init claim is held (SPEC §4): `create` makes generation `generation` with
 * create-if-absent, so among replicas racing for it the store picks one winner; `held` is
 * our own claim from before a restart.
 */
export type ClaimStep =
  | { kind: 'create'; generation: number; takesOver: 'nothing' | 'stale' | 'unreadable' | 'old-cluster' }
  | { kind: 'held'; generation: number };

/**
 * What act() executes. Each carries everything it needs: act() never reads the observation
 * or the store to decide anything.
 */
export type Action =
  | { kind: 'wait'; pace: Pace }
  | { kind: 'store-spooled'; pending: PendingSecrets }
  | { kind: 'claim-and-init'; claim: ClaimStep; autoUnseal: boolean; shares: number; threshold: number }
  | { kind: 'join' }
  | { kind: 'unseal'; keys: UnsealKeys; version: number; pending: boolean; resetProgress: boolean; laterVersions: number }
  | { kind: 'configure'; policies: string[]; role: boolean; audit: boolean; management: ManagementToken; repair: boolean }
  | { kind: 'issue-management-token'; rootToken: Secret }
  | { kind: 'renew-management-token'; record: ManagementTokenRecord }
  | { kind: 'issue-token'; replaces: 'none' | 'invalid' | 'expiring'; replaced: ProvisionerToken | undefined; management: ManagementToken; repair: boolean }
  | { kind: 'revoke-root'; rootToken: RootToken & { token: Secret } }
  | { kind: 'record-seal-intent'; intent: SealIntent }
  | { kind: 'seal'; management: ManagementToken }
  | { kind: 'record-cluster-id'; clusterId: string; keys: UnsealKeys }
  /** --self-init: the first cluster id seen, recorded where a keys record would hold it. */
  | { kind: 'record-self-init-cluster'; cluster: SelfInitCluster }
  /** After a seal migration: check that the stored Shamir keys are now the recovery keys, then store them as such. */
  | { kind: 'adopt-migrated-keys'; keys: UnsealKeys; token: Secret; sealType: string }
  /** Static seal: this active node runs on the newest key, so its unseal re-wrapped the stored keys with it. */
  | { kind: 'record-seal-rewrap'; keyId: string }
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
  /** The name of claim generation 1 (`{prefix}-init-claim`). */
  initClaimName: string;
  shamir: { shares: number; threshold: number };
  recovery: { shares: number; threshold: number };
  /** --self-init: the server initializes itself; the sidecar logs in and never calls sys/init. */
  selfInit: boolean;
  selfInitClusterName: string;
  sealKeyRolloutName: string;
}

export function decideSettings(config: Config, names: SecretNames): DecideSettings {
  return {
    holder: config.holder,
    allowReinit: config.allowReinit,
    claimStaleAfterMs: config.claimStaleAfterMs,
    rootToken: config.rootToken,
    unsealKeysName: names.unsealKeys,
    initClaimName: names.initClaim,
    shamir: { shares: config.secretShares, threshold: config.secretThreshold },
    recovery: { shares: config.recoveryShares, threshold: config.recoveryThreshold },
    selfInit: config.selfInit !== undefined,
    selfInitClusterName: names.selfInitCluster,
    sealKeyRolloutName: names.sealKeyRollout,
  };
}

/** Keys refused by the server, or a policy it rejected, are tried again this long after. */
export const RECHECK_AFTER_MS = 60_000;

/**
 * An auto-unseal server that has not answered this long is reported as a failing seal: a KMS
 * that refuses connections at start makes it exit at once, one that never answers makes it hang
 * before it listens. A healthy server listens within a few seconds of starting.
 */
export const SEAL_SILENT_AFTER_MS = 15_000;

/**
 * The memory to decide with after seeing `seen`: what was learned about another cluster is
 * dropped, and the seal watch follows what the node is now.
 */
export function remember(memory: Memory, seen: Observation): Memory {
  let next = memory;
  const clusterId = seen.vault.clusterId;
  // What outlives a change of cluster: it is about the store's claim and keys, not the server.
  const carried = { unreadableClaim: memory.unreadableClaim, keysFoundFirst: memory.keysFoundFirst };
  if (seen.vault.health === 'uninitialized' && memory.clusterId !== undefined) {
    // Wiped: whatever comes next is another cluster, and this process may be the one to make it.
    next = { ...EMPTY_MEMORY, ...carried };
  } else if (clusterId !== undefined && clusterId !== memory.clusterId) {
    // The first id seen is the node this process set up or opened; a different one later is another cluster.
    next = memory.clusterId === undefined ? { ...memory, clusterId } : { ...EMPTY_MEMORY, clusterId, ...carried };
  }
  if (seen.keys?.kind === 'valid' && next.keysFoundFirst === undefined) next = { ...next, keysFoundFirst: seen.keys.value.initializedAt };
  if (seen.claim !== undefined && next.unreadableClaim !== undefined && seen.claim.generation >= next.unreadableClaim.generation) {
    next = { ...next, unreadableClaim: undefined };
  }
  const { health, connectionsClosed, sealType } = seen.vault;
  let unsealedAtCloses = next.unsealedAtCloses;
  if (health === 'unreachable' || intentActive(seen)) unsealedAtCloses = undefined;
  else if (health !== 'sealed' && health !== 'uninitialized' && health !== 'unknown' && health !== 'removed') unsealedAtCloses = connectionsClosed;
  if (unsealedAtCloses !== next.unsealedAtCloses) next = { ...next, unsealedAtCloses };
  if (sealType !== undefined && sealType !== next.sealType) next = { ...next, sealType };
  const unreachableSince = health === 'unreachable' ? (next.unreachableSince ?? seen.at) : undefined;
  return unreachableSince === next.unreachableSince ? next : { ...next, unreachableSince };
}

function intentActive(seen: Observation): SealIntent | undefined {
  return seen.sealIntent?.kind === 'valid' && seen.sealIntent.value.active ? seen.sealIntent.value : undefined;
}


/**
 * The state machine of SPEC §1 as one pure function: what to do next, from what this pass
 * observed and the little that cannot be observed. `run` acts on it; `plan` prints it.
 * README's decision table is this function, rule for rule.
 */
export function decide(seen: Observation, memory: Memory, settings: DecideSettings): Decision {
  if (seen.spool !== undefined) return go('storing', 'keys waiting in the spool are stored before anything else', { kind: 'store-spooled', pending: seen.spool });
  const { vault } = seen;
  switch (vault.health) {
    case 'unreachable':
      return decideUnreachable(seen, memory);
    case 'unknown':
      return go('waiting', `unknown health status ${vault.status}: not acting on it`, { kind: 'wait', pace: 'fast' });
    case 'removed':
      return hold('node-removed', 'this node was removed from the raft cluster: re-join it or replace the pod');
    case 'uninitialized':
      return decideUninitialized(seen, memory, settings);
    case 'sealed':
      return decideSealed(seen, memory, settings);
    default:
      return decideUnsealed(seen, memory, settings);
  }
}

/**
 * No answer. A node seen with an auto-unseal seal that stays silent is reported as a failing
 * seal: the server cannot say so itself, since it exits or hangs before it listens. Looked at
 * as fast as ever, so a server that comes back is seen at once.
 */
function decideUnreachable(seen: Observation, memory: Memory): Decision {
  const detail = seen.vault.detail || 'Vault unreachable';
  const since = memory.unreachableSince;
  if (keyTypeFor(memory.sealType) === 'recovery' && since !== undefined && seen.at - since >= SEAL_SILENT_AFTER_MS) {
    const reason =
      `the seal (KMS) is failing: this node auto-unseals with its ${memory.sealType} seal and has not answered since ${new Date(since).toISOString()} (${detail}); ` +
      'a KMS that refuses connections makes the server exit at start, one that never answers makes it hang before it listens: check the KMS endpoint, network and IAM (the server log names the error)';
    return go('waiting', reason, { kind: 'hold', blocker: 'seal-failing', pace: 'fast' });
  }
  return go('waiting', detail, { kind: 'wait', pace: 'fast' });
}

function decideUninitialized(seen: Observation, memory: Memory, settings: DecideSettings): Decision {
  if (settings.selfInit) {
    return go('uninitialized', '--self-init: the server initializes itself from its initialize stanzas at first start; waiting for it (vault-bootstrap never calls sys/init in this mode)', { kind: 'wait', pace: 'join' });
  }
  const keys = required(seen.keys, 'keys');
  if (keys.kind === 'invalid') return hold('store-record-invalid', `${describeInvalidRecord(keys)}; not initializing because of it`);
  if (keys.kind === 'valid' && !settings.allowReinit) {
    return go('uninitialized', `keys exist in ${settings.unsealKeysName}: restore, don't init; waiting for this node to join the initialized cluster (--allow-reinit initializes anew)`, { kind: 'join' });
  }
  const { generation, record: claim } = required(seen.claim, 'claim');
  const claimSecret = claimName(settings.initClaimName, generation);
  if (claim.kind === 'invalid') return hold('store-record-invalid', `${describeInvalidRecord(claim)}; not initializing while the claim is unreadable`);
  const autoUnseal = keyTypeFor(seen.vault.sealType) === 'recovery';
  const split = autoUnseal ? `${seen.vault.sealType} seal: recovery shares` : 'Shamir seal';
  const initialize = (step: ClaimStep): Action => ({ kind: 'claim-and-init', claim: step, autoUnseal, ...(autoUnseal ? settings.recovery : settings.shamir) });
  const takeOver = (takesOver: Extract<ClaimStep, { kind: 'create' }>['takesOver'], why: string) => go('uninitialized', `${why}; ${split}`, initialize({ kind: 'create', generation: generation + 1, takesOver }));
  // A generation we lost the create of and still cannot read: being written, or its writer died halfway.
  const unreadable = memory.unreadableClaim?.generation === generation + 1 ? memory.unreadableClaim : undefined;
  if (unreadable !== undefined) {
    if (!(seen.at - unreadable.since >= settings.claimStaleAfterMs)) {
      return go('uninitialized', `${claimName(settings.initClaimName, unreadable.generation)} exists but reads empty (being written); waiting for this node to join the cluster`, { kind: 'join' });
    }
    return go('uninitialized', `${claimName(settings.initClaimName, unreadable.generation)} has read empty past --claim-stale-after: creating the generation after it; ${split}`, initialize({ kind: 'create', generation: generation + 2, takesOver: 'unreadable' }));
  }
  if (claim.kind === 'absent') return takeOver('nothing', 'no claim yet');
  const { holder, claimedAt } = claim.value;
  // The claim of the keys this process found first: the old cluster that --allow-reinit replaces.
  // Keys stored since, or a claim newer than the keys, are a racing replica's new cluster.
  const oldCluster = keys.kind === 'valid' && keys.value.initializedAt === memory.keysFoundFirst && Date.parse(claimedAt) <= Date.parse(keys.value.initializedAt);
  if (oldCluster) return takeOver('old-cluster', `--allow-reinit: taking over ${claimSecret}, the old cluster's claim (held by ${holder})`);
  // Ours, and made for no cluster yet stored: a restart between claiming and storing.
  const claimedSinceKeys = keys.kind === 'absent' || Date.parse(claimedAt) > Date.parse(keys.value.initializedAt);
  if (holder === settings.holder && claimedSinceKeys) return go('uninitialized', `${claimSecret} is ours (${holder}); ${split}`, initialize({ kind: 'held', generation }));
  if (keys.kind === 'valid') return go('uninitialized', `--allow-reinit: ${claimSecret} of ${holder} is not the claim of the keys this process found (another replica's cluster); waiting for this node to join the cluster`, { kind: 'join' });
  if (!(seen.at - Date.parse(claimedAt) < settings.claimStaleAfterMs)) return takeOver('stale', `${claimSecret} of ${holder} is stale (no keys stored since ${claimedAt})`);
  return go('uninitialized', `initialization is claimed by ${holder} (${claimSecret}); waiting for this node to join the cluster`, { kind: 'join' });
}

function decideSealed(seen: Observation, memory: Memory, settings: DecideSettings): Decision {
  const intent = intentActive(seen);
  if (intent !== undefined) {
    return go('sealed', `sealed on purpose by ${intent.by} at ${intent.at} (${intent.reason}): run vault-bootstrap resume to unseal`, { kind: 'hold', blocker: 'seal-intent', pace: 'interval' });
  }
  if (memory.unsealedAtCloses !== undefined && seen.vault.connectionsClosed === memory.unsealedAtCloses) {
    return go('sealed', 'sealed while its process kept running (not a restart): recording it as a seal intent; run vault-bootstrap resume to unseal', {
      kind: 'record-seal-intent',
      intent: { active: true, by: settings.holder, at: new Date(seen.at).toISOString(), reason: 'sealed while running (not by vault-bootstrap seal)' },
    });
  }
  const keys = required(seen.keys, 'keys');
  if (keys.kind === 'invalid') return hold('store-record-invalid', describeInvalidRecord(keys));
  if (keys.kind === 'absent' && settings.selfInit && keyTypeFor(seen.vault.sealType) === 'shamir') {
    return hold('seal-mismatch', '--self-init: this node has a Shamir seal, but self-initialization needs an auto-unseal seal (static, a KMS, transit): fix the seal stanza');
  }
  if (keys.kind === 'absent' && !settings.selfInit) return initializedWithoutKeys(seen, memory, settings);
  const mismatch = keys.kind === 'valid' ? sealMismatch(seen, keys.value, settings) : undefined;
  if (mismatch !== undefined) return hold('seal-mismatch', mismatch);
  const sealType = seen.vault.sealType ?? 'shamir';
  if (sealType !== 'shamir') {
    // The server retries by itself (every few seconds) and names the KMS error in its log; its API does not say why.
    const reason = `the seal (KMS) is failing: the ${sealType} seal has not unsealed this node (the server retries by itself; its log names the KMS error, e.g. Decrypt denied); recovery keys do not unseal, so none are submitted`;
    return go('sealed', reason, { kind: 'hold', blocker: 'seal-failing', pace: 'interval' });
  }
  return decideUnseal(seen, memory, settings, required(valid(keys), 'keys'));
}

/**
 * Which stored key version to unseal with: the active one, then a rotation's pending ones
 * newest first (a rotation verified before its run could mark the keys active), each until the
 * server refused it from zero progress. Shares someone else submitted are reset first.
 */
function decideUnseal(seen: Observation, memory: Memory, settings: DecideSettings, active: UnsealKeys): Decision {
  const versions = seen.keyVersions;
  const candidates = [
    { keys: versions?.active?.record ?? active, version: versions?.active?.version ?? 0, pending: false },
    ...(versions?.pending ?? []).map((candidate) => ({ keys: candidate.record, version: candidate.version, pending: true })),
  ];
  const refusedLately = (version: number) => {
    const at = memory.refusedKeys.get(version);
    return at !== undefined && seen.at - at < RECHECK_AFTER_MS;
  };
  const index = candidates.findIndex((candidate) => !refusedLately(candidate.version));
  if (index === -1) {
    const which = candidates.length === 1 ? `the active keys (version ${candidates[0]!.version})` : `every stored version (${candidates.map((candidate) => candidate.version).join(', ')})`;
    return hold('keys-rejected', `the server refused ${which} of ${settings.unsealKeysName}, each submitted from zero progress: they do not open this node's barrier (README: recovery)`);
  }
  const chosen = candidates[index]!;
  const { progress } = seen.vault.unsealProgress;
  const stray = progress > 0 ? `; ${progress} share(s) someone else submitted are reset first` : '';
  const which = chosen.pending ? `the pending keys of an unfinished rotation (version ${chosen.version}; the active ones were refused)` : `up to ${chosen.keys.threshold} stored shares`;
  return go('sealed', `health 503; unsealing with ${which}${stray}`, {
    kind: 'unseal',
    keys: chosen.keys,
    version: chosen.version,
    pending: chosen.pending,
    resetProgress: progress > 0,
    laterVersions: candidates.length - index - 1,
  });
}

function decideUnsealed(seen: Observation, memory: Memory, settings: DecideSettings): Decision {
  const { health, clusterId } = seen.vault;
  if (seen.reconcile === undefined) return go('ready', `converged and unchanged since the last reconcile (${health})`, { kind: 'done' });
  const keys = required(seen.keys, 'keys');
  const server = seen.server;
  const management = server === undefined ? undefined : managementTokenOf(seen, server);
  if (intentActive(seen) !== undefined) {
    if (management === undefined) return hold('no-management-token', 'a seal intent is active, but no valid token is stored to seal this node with; run vault-bootstrap generate-root (README: recovery)');
    return go('sealed', 'a seal intent is active: sealing this node too', { kind: 'seal', management });
  }
  if (keys.kind === 'invalid') return hold('store-record-invalid', describeInvalidRecord(keys));
  if (keys.kind === 'absent') {
    if (!settings.selfInit) return initializedWithoutKeys(seen, memory, settings);
    const guard = decideSelfInitCluster(seen, settings);
    if (guard !== undefined) return guard;
  } else {
    const mismatch = sealMismatch(seen, keys.value, settings);
    if (mismatch !== undefined) return decideMigrated(seen, memory, keys.value, mismatch, management) ?? hold('seal-mismatch', mismatch);
    if (keys.value.clusterId !== undefined && clusterId !== undefined && clusterId !== keys.value.clusterId) {
      return hold('cluster-mismatch', `this node belongs to cluster ${clusterId}, but ${settings.unsealKeysName} opens cluster ${keys.value.clusterId}: it initialized on its own or is pointed at the wrong store; not configuring it (README: recovery)`);
    }
  }
  required(server, 'server');
  if (management === undefined && server!.loginProblem !== undefined) {
    return hold('login-rejected', `--self-init: the server refused the sidecar's login: ${server!.loginProblem}; check the auth method and role its initialize stanzas declare and the pod's service account (README: self-initialized OpenBao)`);
  }
  if (management === undefined) {
    return hold('no-management-token', 'no valid token to configure with: the management token is missing or not accepted and the root token is revoked or invalid; run vault-bootstrap generate-root (README: recovery)');
  }
  const rejected = stillRejected(seen, memory);
  const policies = server!.policiesDiffering.filter((name) => !rejected.has(name));
  const repair = memory.convergedOnce;
  if (policies.length > 0 || server!.roleDiffers || server!.auditDiffers) {
    const differing = [...policies.map((name) => `policy ${name}`), ...(server!.roleDiffers ? ['token role provisioner'] : []), ...(server!.auditDiffers ? ['audit device'] : [])];
    return go('configuring', `${repair ? 'drift' : 'unsealed'} (${health}): ${differing.join(', ')} differ${differing.length === 1 ? 's' : ''} from the desired configuration; writing with the ${management.source} token`, {
      kind: 'configure',
      policies,
      role: server!.roleDiffers,
      audit: server!.auditDiffers,
      management,
      repair,
    });
  }
  const own = server!.ownManagementToken;
  const rootToken = valid(seen.rootToken);
  if ((own === 'missing' || own === 'invalid') && server!.rootTokenLive && rootToken?.token && health === 'active') {
    return go('issuing', own === 'missing' ? 'the sidecar has no management token of its own yet: issuing it with the root token' : 'the stored management token is not valid on this server: issuing another with the root token', {
      kind: 'issue-management-token',
      rootToken: rootToken.token,
    });
  }
  const ownRecord = valid(seen.managementToken);
  if (own === 'renew' && ownRecord !== undefined && health === 'active') {
    return go('issuing', 'the management token is in the last third of its period', { kind: 'renew-management-token', record: ownRecord });
  }
  const token = server!.provisionerToken;
  if (token === 'missing' || token === 'invalid' || (token === 'rotate' && health === 'active')) {
    if (health === 'active') {
      const why = { missing: 'no provisioner token stored', invalid: 'the stored provisioner token is not valid on this server', rotate: 'the provisioner token is in the last third of its life' }[token];
      const replaced = token === 'missing' ? undefined : valid(seen.provisionerToken);
      return go('issuing', `${why}; issuing with the ${management.source} token`, { kind: 'issue-token', replaces: token === 'missing' ? 'none' : token === 'invalid' ? 'invalid' : 'expiring', replaced, management, repair });
    }
    return go('issuing', `this node is ${health}: waiting for the active node's sidecar to issue the provisioner token`, { kind: 'wait', pace: 'join' });
  }
  if (settings.rootToken === 'revoke' && server!.rootTokenLive && management.source === 'management' && health === 'active' && rootToken?.token) {
    return go('issuing', '--root-token revoke: the management and provisioner tokens are stored and valid', { kind: 'revoke-root', rootToken: { ...rootToken, token: rootToken.token } });
  }
  if (keys.kind === 'valid' && keys.value.clusterId === undefined && clusterId !== undefined && memory.opened && health === 'active') {
    return go('configuring', `recording the cluster id in ${settings.unsealKeysName} (the split-brain check)`, { kind: 'record-cluster-id', clusterId, keys: { ...keys.value, clusterId } });
  }
  const rewrap = seen.sealKeyRollout;
  if (health === 'active' && rewrap?.newestKeyId !== undefined && rewrap.ownKeyId === rewrap.newestKeyId && rewrap.rewrappedKeyId !== rewrap.newestKeyId) {
    // OpenBao re-wraps the stored keys with its current static key when a node becomes active;
    // this node's current key is the newest, so the previous key is no longer needed to unseal.
    return go('configuring', `static seal: this active node runs on the newest seal key ${rewrap.newestKeyId}, so becoming active re-wrapped the stored keys with it; recording that in ${settings.sealKeyRolloutName}`, {
      kind: 'record-seal-rewrap',
      keyId: rewrap.newestKeyId,
    });
  }
  if (rejected.size > 0) {
    // Re-checked at the normal pace: the pass writes nothing while the text is unchanged, and a fixed file is picked up soon.
    return hold('policy-rejected', [...rejected.values()].map((rejection) => rejection.message).join('; '), 'interval');
  }
  return go('ready', health === 'active' ? 'configured, provisioner token valid' : `configured, provisioner token valid (${health})`, { kind: 'done' });
}

/**
 * An unsealed auto-unseal node whose stored keys are Shamir keys: after a completed seal
 * migration (Shamir → auto-unseal) the former unseal keys are the recovery keys. That is what
 * explains the mismatch, and it is checked before anything is recorded: the active node's
 * sidecar asks the server (a trial recovery-key rotation, cancelled) and stores the keys as
 * type `recovery` only if they are. Anything else stays a seal-mismatch for a person.
 */
function decideMigrated(seen: Observation, memory: Memory, keys: UnsealKeys, mismatch: string, management: ManagementToken | undefined): Decision | undefined {
  const sealType = seen.vault.sealType;
  if (seen.vault.migration || keys.type !== 'shamir' || keyTypeFor(sealType) !== 'recovery' || keys.encrypted === true || sealType === undefined) return undefined;
  if (memory.migratedKeysRefusedAt !== undefined && seen.at - memory.migratedKeysRefusedAt < RECHECK_AFTER_MS) {
    return hold('seal-mismatch', `${mismatch}; the server does not take the stored Shamir keys as its recovery keys, so this is not a completed seal migration of this cluster`);
  }
  if (seen.vault.health !== 'active') return go('configuring', `${mismatch}; the active node's sidecar checks whether a seal migration made them the recovery keys`, { kind: 'wait', pace: 'join' });
  if (management === undefined) return hold('seal-mismatch', `${mismatch}; checking whether a seal migration made them the recovery keys needs the management or root token (vault-bootstrap generate-root)`);
  return go('configuring', `the ${sealType} seal unsealed this node and the stored keys are Shamir keys: a completed seal migration makes them the recovery keys; checking that with the server`, {
    kind: 'adopt-migrated-keys',
    keys,
    token: management.token,
    sealType,
  });
}

/**
 * --self-init: the node's cluster against the one first seen. Nothing else records it (no keys
 * record), so the first unsealed sight writes it, and a different id later is another cluster
 * (storage wiped and self-initialized anew, or the wrong store): not configured.
 */
function decideSelfInitCluster(seen: Observation, settings: DecideSettings): Decision | undefined {
  const recorded = required(seen.selfInitCluster, 'selfInitCluster');
  const { clusterId, sealType } = seen.vault;
  if (recorded.kind === 'invalid') return hold('store-record-invalid', describeInvalidRecord(recorded));
  if (recorded.kind === 'valid') {
    if (clusterId === undefined || clusterId === recorded.value.clusterId) return undefined;
    return hold('cluster-mismatch', `this node belongs to cluster ${clusterId}, but ${settings.selfInitClusterName} records cluster ${recorded.value.clusterId} (first seen ${recorded.value.firstSeenAt}): its storage was wiped and it initialized itself anew, or it points at another cluster's store; not configuring it (README: recovery)`);
  }
  if (clusterId === undefined) return undefined;
  return go('configuring', `--self-init: first sight of this self-initialized cluster; recording its id in ${settings.selfInitClusterName} (the split-brain check)`, {
    kind: 'record-self-init-cluster',
    cluster: { clusterId, firstSeenAt: new Date(seen.at).toISOString(), sealType: sealType ?? '' },
  });
}

/** The token observe() chose (steps/management-token.ts) to write with: a --self-init login's, else the sidecar's own, else the root token; never the CI token. */
function managementTokenOf(seen: Observation, server: ServerSeen): ManagementToken | undefined {
  if (server.managementToken === 'login' && server.loginToken) return { source: 'login', token: server.loginToken };
  const own = valid(seen.managementToken)?.token;
  if (server.managementToken === 'management' && own) return { source: 'management', token: own };
  const root = valid(seen.rootToken)?.token;
  if (server.managementToken === 'root' && root) return { source: 'root', token: root };
  return undefined;
}

function valid<T>(record: StoredRecord<T> | undefined): T | undefined {
  return record?.kind === 'valid' ? record.value : undefined;
}

/** Why the stored keys cannot serve this seal (a changed seal stanza, a migration), or undefined. */
function sealMismatch(seen: Observation, keys: UnsealKeys, settings: DecideSettings): string | undefined {
  if (seen.vault.migration) return `a seal migration is in progress: run vault-bootstrap migrate-seal (or unseal each node with -migrate); the sidecar feeds no keys to it (README: seal migration)`;
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

/**
 * An initialized node with no keys in the store: our lost init, or somebody else's. We claim
 * before every sys/init (SPEC §4) and the claim outlives it, so a claim under our prefix is the
 * proof of ours: a kill inside sys/init, or keys deleted since. Without one, vault-bootstrap never
 * initialized this server: OpenBao's own initialize stanzas, a person, or another tool did, and
 * whoever did holds what it returned. Only our orphan gets the wipe advice, and with the check
 * that the server holds nothing first.
 */
function initializedWithoutKeys(seen: Observation, memory: Memory, settings: DecideSettings): Decision {
  const { generation, record: claim } = required(seen.claim, 'claim');
  if (generation > 0) return orphaned(claimName(settings.initClaimName, generation), claim, settings);
  const { sealType, health } = seen.vault;
  const autoUnsealed = keyTypeFor(sealType) === 'recovery' && health !== 'sealed' && !memory.opened;
  const who = autoUnsealed
    ? `its ${sealType} seal unsealed it without us: most likely OpenBao's self-initialization (initialize stanzas in the server config), else another tool; it returned no keys and its root token is revoked, so none are missing`
    : `a person or another tool initialized it and holds its ${keyTypeFor(sealType) === 'recovery' ? 'recovery' : 'unseal'} keys and root token`;
  return hold(
    'initialized-elsewhere',
    `this server was initialized, but not by vault-bootstrap: ${settings.unsealKeysName} is absent and no init claim (${settings.initClaimName}) was ever made under this --store-prefix; ${who}. ` +
      'Nothing is lost and nothing should be wiped: check that --store and --store-prefix name this cluster\'s records; a self-initialized OpenBao is managed with --self-init and a login its initialize stanzas declare (README: self-initialized OpenBao)',
  );
}

function orphaned(claimSecret: string, claim: StoredRecord<InitClaim>, settings: DecideSettings): Decision {
  const by = claim.kind === 'valid' ? ` by ${claim.value.holder} at ${claim.value.claimedAt}` : '';
  return {
    state: 'orphaned',
    reason:
      `Vault is initialized but ${settings.unsealKeysName} is absent and no keys are in flight, while ${claimSecret} shows vault-bootstrap initialized it${by}: ` +
      'a process stopped inside sys/init before it could store the answer, or the keys were deleted since. Restore the keys secret from a backup or an earlier version; ' +
      'wipe the server storage and run again only once you have checked that it holds no data: no token of this init was ever stored, so its audit log shows no authenticated request after the claim, ' +
      'and its storage holds only the initial barrier (README: recovery)',
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
  // observe() reads what each health kind needs; a gap here is a bug, not a server state: a
  // person must see it, a retry would only repeat it.
  if (value === undefined) throw new BootstrapError('INTERNAL', `decide: the observation lacks ${what} (a bug: please report it)`);
  return value;
}

/** One line per action, for plan and the act log. */
export function describeAction(action: Action, names: SecretNames): string {
  switch (action.kind) {
    case 'wait':
      return `wait (${action.pace})`;
    case 'store-spooled':
      return `store the spooled keys in ${names.unsealKeys} and ${names.rootToken}, then remove the spool`;
    case 'claim-and-init': {
      const claim = claimName(names.initClaim, action.claim.generation);
      const how =
        action.claim.kind === 'held'
          ? `hold our claim ${claim}`
          : `create ${claim} (claim generation ${action.claim.generation}${action.claim.takesOver === 'nothing' ? '' : `, taking over ${action.claim.takesOver === 'old-cluster' ? "the old cluster's claim" : `a${action.claim.takesOver === 'stale' ? ' stale' : 'n unreadable'} claim`}`}; create-if-absent: one winner)`;
      return `${how}, initialize (${action.shares} ${action.autoUnseal ? 'recovery shares' : 'shares'}, threshold ${action.threshold}), store ${names.unsealKeys} and ${names.rootToken}`;
    }
    case 'join':
      return 'wait for this node to join the cluster (raft retry_join, or --raft-join)';
    case 'unseal':
      return `${action.resetProgress ? 'reset the unseal progress someone else started, then ' : ''}unseal with version ${action.version} of ${names.unsealKeys}${action.pending ? ' (a rotation\'s pending keys; stored as active once they unseal)' : ''}`;
    case 'configure':
      return [...action.policies.map((name) => `write policy ${name}`), ...(action.role ? ['write token role provisioner'] : []), ...(action.audit ? ['enable the audit device'] : [])].join(', ') + ` (with the ${action.management.source} token)`;
    case 'issue-management-token':
      return `issue the management token with the root token, store it in ${names.managementToken}`;
    case 'renew-management-token':
      return `renew the management token in ${names.managementToken}`;
    case 'issue-token':
      return `issue a provisioner token with the ${action.management.source} token, store it in ${names.provisionerToken}${action.replaces === 'none' ? '' : ', then revoke the old one'}`;
    case 'revoke-root':
      return `revoke the root token and mark ${names.rootToken} revoked`;
    case 'record-seal-intent':
      return `record a seal intent in ${names.sealIntent} (sealed while running) and keep the node sealed`;
    case 'seal':
      return `seal this node with the ${action.management.source} token (a seal intent is active)`;
    case 'record-cluster-id':
      return `add the cluster id to ${names.unsealKeys}`;
    case 'record-self-init-cluster':
      return `record cluster id ${action.cluster.clusterId} in ${names.selfInitCluster}`;
    case 'adopt-migrated-keys':
      return `ask the server whether the stored Shamir keys are its recovery keys (a trial rotation, cancelled); if so store them in ${names.unsealKeys} as type recovery`;
    case 'record-seal-rewrap':
      return `record in ${names.sealKeyRollout} that the stored keys are re-wrapped with static seal key ${action.keyId}`;
    case 'hold':
      return `hold: ${action.blocker} (nothing changes until a person acts)`;
    case 'done':
      return 'nothing to change';
  }
}
