/**
 * The loop's vocabulary: what observe() sees (Observation), what decide() chooses (Decision,
 * Action) and the little it remembers is memory.ts. Types only, no rules.
 */
import type { PgpPublicKey } from '../pgp.js';
import type { KeyType } from '../seal.js';
import type { Secret } from '../secret.js';
import type { ManagementTokenVerdict } from '../steps/management-token.js';
import type { PendingSecrets } from '../steps/spool.js';
import type {
  ClaimSeen,
  InitClaim,
  ManagementTokenRecord,
  ProvisionerToken,
  RootToken,
  SealIntent,
  SelfInitCluster,
  StoredRecord,
  UnsealKeys,
  UnsealKeyVersions,
} from '../store/records.js';
import type { HighestServer } from '../vault/server-version.js';
import type { ServerKind } from '../vault/servers.js';
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
  /** When the management token enters the last third of its life, as looked up (its successor is issued then). */
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
  /** --snapshot-interval on an active node, when a look is due (snapshots.ts): the newest snapshot in --snapshot-to. */
  snapshots?: SnapshotsSeen;
}

/** What one look at --snapshot-to saw: its newest verified snapshot, or why it could not be read. */
export interface SnapshotsSeen {
  newest: { id: string; takenAt: number; size: number } | undefined;
  /** When the last restore drill that passed verified a restore (verified-restore.json), if one did. */
  verifiedRestoreAt?: number;
  /** The destination did not answer or refused (its code and message): no snapshot is taken on this look. */
  problem?: { code: string; message: string };
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
  | {
      kind: 'create';
      generation: number;
      takesOver: 'nothing' | 'stale' | 'unreadable' | 'old-cluster';
      record: InitClaim;
    }
  | { kind: 'held'; generation: number };

/**
 * What act() executes. Each carries everything it needs: act() never reads the observation
 * or the store to decide anything.
 */
export type Action =
  | { kind: 'wait'; pace: Pace }
  | { kind: 'store-spooled'; pending: PendingSecrets }
  /** sys/init with this split of this key type, shares encrypted to the custodians when given (recovery keys only). */
  | {
      kind: 'claim-and-init';
      claim: ClaimStep;
      keyType: KeyType;
      shares: number;
      threshold: number;
      custodians?: readonly PgpPublicKey[];
    }
  /** Wait for the node to join; with a leader (--raft-join), ask it to join through that leader. */
  | { kind: 'join'; leader?: string }
  /**
   * Submit the keys; still sealed with every share in, `stillSealed` says what that means:
   * `next-version` (later versions are stored: the split changed with a rotation, so reset and
   * count this version as refused) or `joining` (a raft follower unseals once caught up).
   */
  | {
      kind: 'unseal';
      keys: UnsealKeys;
      version: number;
      pending: boolean;
      resetProgress: boolean;
      laterVersions: number;
      stillSealed: 'next-version' | 'joining';
    }
  | {
      kind: 'configure';
      policies: string[];
      role: boolean;
      audit: boolean;
      management: ManagementToken;
      repair: boolean;
    }
  | { kind: 'issue-management-token'; rootToken: Secret }
  | { kind: 'reissue-management-token'; record: ManagementTokenRecord }
  | {
      kind: 'issue-token';
      replaces: 'none' | 'invalid' | 'expiring';
      replaced: ProvisionerToken | undefined;
      management: ManagementToken;
      repair: boolean;
    }
  | { kind: 'revoke-root'; rootToken: RootToken & { token: Secret } }
  | {
      kind: 'revoke-previous-token';
      record: ProvisionerToken & { previous: { accessor: string; revokeAt: string } };
      management: ManagementToken;
    }
  | { kind: 'record-seal-intent'; intent: SealIntent }
  | { kind: 'seal'; management: ManagementToken }
  | { kind: 'record-cluster-id'; clusterId: string; keys: UnsealKeys }
  /** The active node runs a newer release than the keys record names (or it names none): the downgrade guard's record, raised. */
  | { kind: 'record-server-version'; keys: UnsealKeys & { highestServer: HighestServer } }
  /** --self-init: the first cluster id seen, recorded where a keys record would hold it. */
  | { kind: 'record-self-init-cluster'; cluster: SelfInitCluster }
  /** After a seal migration: check that the stored Shamir keys are now the recovery keys, then store them as such. */
  | { kind: 'adopt-migrated-keys'; keys: UnsealKeys; token: Secret; sealType: string }
  /** Static seal: this active node runs on the newest key, so its unseal re-wrapped the stored keys with it. */
  | { kind: 'record-seal-rewrap'; keyId: string }
  /** The active node's periodic snapshot (--snapshot-interval): streamed into --snapshot-to, verified, then retention. */
  | { kind: 'take-snapshot'; newest: string | undefined }
  | { kind: 'hold'; blocker: Blocker; pace: Pace }
  | { kind: 'done' };

/**
 * What an action did, as act() reports it: facts, not decisions. learn() (memory.ts) records
 * what the next decide() needs of them; everything else the next observe() sees for itself.
 */
export type ActOutcome =
  /** Done; nothing in it the next pass cannot observe. */
  | { kind: 'acted' }
  /** Another replica created this claim generation first. */
  | { kind: 'claim-lost'; generation: number }
  /** The node turned out initialized once the claim was made (it joined its cluster): not initialized. */
  | { kind: 'init-skipped' }
  /** sys/init answered and the keys are stored. */
  | { kind: 'initialized' }
  | { kind: 'unsealed' }
  /** The server refused this key version from zero progress, or took every share and wanted more. */
  | { kind: 'keys-refused'; version: number }
  /** Still sealed for a reason that passes (a joining node, someone else's shares): look again soon. */
  | { kind: 'unseal-pending' }
  /** Policies written, and those the server refused with why. */
  | { kind: 'configured'; written: readonly string[]; rejected: ReadonlyMap<string, PolicyRejection> }
  | { kind: 'migrated-keys'; result: 'adopted' | 'refused' | 'busy' }
  /** A scheduled snapshot: when it was taken, or undefined when it failed. */
  | { kind: 'snapshot'; takenAt: number | undefined };

export interface Decision {
  state: State;
  reason: string;
  action: Action;
}
