import { BootstrapError, describeError, isTransientError } from '../errors.js';
import { custodyProblem, isAutoUnseal, keyTypeFor, splitFor } from '../seal.js';
import {
  claimName,
  describeInvalidRecord,
  type InitClaim,
  type StoredRecord,
  type UnsealKeys,
} from '../store/records.js';
import { blockerOf, type Blocker, type State } from '../states.js';
import { intentActive, type Memory } from './memory.js';
import type {
  Action,
  ClaimStep,
  Decision,
  ManagementToken,
  Observation,
  Pace,
  PolicyRejection,
  ServerSeen,
} from './model.js';
import { RECHECK_AFTER_MS, SEAL_SILENT_AFTER_MS, type DecideSettings } from './settings.js';
import { downgradeOf, raisesHighest, type HighestServer, type ServerRelease } from '../vault/server-version.js';
import { decideSnapshot } from './snapshots.js';

// The loop's types, memory, settings and action descriptions, re-exported: most modules import them from here.
export * from './model.js';
export * from './memory.js';
export * from './settings.js';
export * from './describe.js';

/**
 * The state machine of SPEC §1 as one pure function: what to do next, from what this pass
 * observed and the little that cannot be observed. `run` acts on it; `plan` prints it.
 * README's decision table is this function, rule for rule.
 */
export function decide(seen: Observation, memory: Memory, settings: DecideSettings): Decision {
  if (seen.spool !== undefined)
    return go('storing', 'keys waiting in the spool are stored before anything else', {
      kind: 'store-spooled',
      pending: seen.spool,
    });
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
      return decideSnapshot(seen, settings.snapshotIntervalMs, decideUnsealed(seen, memory, settings));
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
  if (isAutoUnseal(memory.sealType) && since !== undefined && seen.at - since >= SEAL_SILENT_AFTER_MS) {
    const reason =
      `the seal (KMS) is failing: this node auto-unseals with its ${memory.sealType} seal and has not answered since ${new Date(since).toISOString()} (${detail}); ` +
      'a KMS that refuses connections makes the server exit at start, one that never answers makes it hang before it listens: check the KMS endpoint, network and IAM (the server log names the error)';
    return go('waiting', reason, { kind: 'hold', blocker: 'seal-failing', pace: 'fast' });
  }
  return go('waiting', detail, { kind: 'wait', pace: 'fast' });
}

function decideUninitialized(seen: Observation, memory: Memory, settings: DecideSettings): Decision {
  if (settings.selfInit) {
    return go(
      'uninitialized',
      '--self-init: the server initializes itself from its initialize stanzas at first start; waiting for it (vault-bootstrap never calls sys/init in this mode)',
      { kind: 'wait', pace: 'join' },
    );
  }
  const keys = required(seen.keys, 'keys');
  if (keys.kind === 'invalid')
    return hold('store-record-invalid', `${describeInvalidRecord(keys)}; not initializing because of it`);
  if (keys.kind === 'valid' && !settings.allowReinit) {
    return go(
      'uninitialized',
      `keys exist in ${settings.unsealKeysName}: restore, don't init; waiting for this node to join the initialized cluster (--allow-reinit initializes anew)`,
      joinAction(settings),
    );
  }
  // Known before acting: refused here, before any claim, so no replica claims an init it cannot make.
  const keyType = keyTypeFor(seen.vault.sealType);
  const custody = custodyProblem(keyType, settings.custodians);
  if (custody !== undefined) return hold('config-rejected', custody);
  const { generation, record: claim } = required(seen.claim, 'claim');
  const claimSecret = claimName(settings.initClaimName, generation);
  if (claim.kind === 'invalid')
    return hold(
      'store-record-invalid',
      `${describeInvalidRecord(claim)}; not initializing while the claim is unreadable`,
    );
  const split = keyType === 'recovery' ? `${seen.vault.sealType} seal: recovery shares` : 'Shamir seal';
  const initialize = (step: ClaimStep): Action => ({
    kind: 'claim-and-init',
    claim: step,
    keyType,
    ...splitFor(keyType, settings),
    ...(settings.custodians === undefined ? {} : { custodians: settings.custodians }),
  });
  const create = (
    nextGeneration: number,
    takesOver: Extract<ClaimStep, { kind: 'create' }>['takesOver'],
  ): ClaimStep => ({
    kind: 'create',
    generation: nextGeneration,
    takesOver,
    record: { holder: settings.holder, claimedAt: new Date(seen.at).toISOString(), clusterHint: settings.vaultAddress },
  });
  const takeOver = (takesOver: Extract<ClaimStep, { kind: 'create' }>['takesOver'], why: string) =>
    go('uninitialized', `${why}; ${split}`, initialize(create(generation + 1, takesOver)));
  // A generation we lost the create of and still cannot read: being written, or its writer died halfway.
  const unreadable = memory.unreadableClaim?.generation === generation + 1 ? memory.unreadableClaim : undefined;
  if (unreadable !== undefined) {
    if (!(seen.at - unreadable.since >= settings.claimStaleAfterMs)) {
      return go(
        'uninitialized',
        `${claimName(settings.initClaimName, unreadable.generation)} exists but reads empty (being written); waiting for this node to join the cluster`,
        joinAction(settings),
      );
    }
    return go(
      'uninitialized',
      `${claimName(settings.initClaimName, unreadable.generation)} has read empty past --claim-stale-after: creating the generation after it; ${split}`,
      initialize(create(generation + 2, 'unreadable')),
    );
  }
  if (claim.kind === 'absent') return takeOver('nothing', 'no claim yet');
  const { holder, claimedAt } = claim.value;
  // The claim of the keys this process found first: the old cluster that --allow-reinit replaces.
  // Keys stored since, or a claim newer than the keys, are a racing replica's new cluster.
  const oldCluster =
    keys.kind === 'valid' &&
    keys.value.initializedAt === memory.keysFoundFirst &&
    Date.parse(claimedAt) <= Date.parse(keys.value.initializedAt);
  if (oldCluster)
    return takeOver(
      'old-cluster',
      `--allow-reinit: taking over ${claimSecret}, the old cluster's claim (held by ${holder})`,
    );
  // Ours, and made for no cluster yet stored: a restart between claiming and storing.
  const claimedSinceKeys = keys.kind === 'absent' || Date.parse(claimedAt) > Date.parse(keys.value.initializedAt);
  if (holder === settings.holder && claimedSinceKeys)
    return go(
      'uninitialized',
      `${claimSecret} is ours (${holder}); ${split}`,
      initialize({ kind: 'held', generation }),
    );
  if (keys.kind === 'valid')
    return go(
      'uninitialized',
      `--allow-reinit: ${claimSecret} of ${holder} is not the claim of the keys this process found (another replica's cluster); waiting for this node to join the cluster`,
      joinAction(settings),
    );
  if (!(seen.at - Date.parse(claimedAt) < settings.claimStaleAfterMs))
    return takeOver('stale', `${claimSecret} of ${holder} is stale (no keys stored since ${claimedAt})`);
  return go(
    'uninitialized',
    `initialization is claimed by ${holder} (${claimSecret}); waiting for this node to join the cluster`,
    joinAction(settings),
  );
}

function decideSealed(seen: Observation, memory: Memory, settings: DecideSettings): Decision {
  const intent = intentActive(seen);
  if (intent !== undefined) {
    return go(
      'sealed',
      `sealed on purpose by ${intent.by} at ${intent.at} (${intent.reason}): run vault-bootstrap resume to unseal`,
      { kind: 'hold', blocker: 'seal-intent', pace: 'interval' },
    );
  }
  if (
    memory.sealedOnPurposeAtCloses === seen.vault.connectionsClosed &&
    keyTypeFor(seen.vault.sealType) === 'recovery'
  ) {
    const reason =
      `the seal intent has ended, but this node's ${seen.vault.sealType} seal unseals it only when its server starts: it was sealed on purpose and its process kept running, ` +
      'and recovery keys do not unseal; restart the pod (kubectl -n vault delete pod NAME) to unseal it (README: emergency seal)';
    return go('sealed', reason, { kind: 'hold', blocker: 'sealed-until-restart', pace: 'interval' });
  }
  if (memory.unsealedAtCloses !== undefined && seen.vault.connectionsClosed === memory.unsealedAtCloses) {
    return go(
      'sealed',
      'sealed while its process kept running (not a restart): recording it as a seal intent; run vault-bootstrap resume to unseal',
      {
        kind: 'record-seal-intent',
        intent: {
          active: true,
          by: settings.holder,
          at: new Date(seen.at).toISOString(),
          reason: 'sealed while running (not by vault-bootstrap seal)',
        },
      },
    );
  }
  const keys = required(seen.keys, 'keys');
  if (keys.kind === 'invalid') return hold('store-record-invalid', describeInvalidRecord(keys));
  if (keys.kind === 'absent' && settings.selfInit && keyTypeFor(seen.vault.sealType) === 'shamir') {
    return hold(
      'seal-mismatch',
      '--self-init: this node has a Shamir seal, but self-initialization needs an auto-unseal seal (static, a KMS, transit): fix the seal stanza',
    );
  }
  if (keys.kind === 'absent' && !settings.selfInit) return initializedWithoutKeys(seen, memory, settings);
  const downgrade = keys.kind === 'valid' ? downgradeHold(seen, keys.value, settings) : undefined;
  if (downgrade !== undefined) return downgrade;
  const mismatch = keys.kind === 'valid' ? sealMismatch(seen, keys.value, settings) : undefined;
  if (mismatch !== undefined) return hold('seal-mismatch', mismatch);
  const sealType = seen.vault.sealType ?? 'shamir';
  if (sealType !== 'shamir') {
    // The server retries by itself (every few seconds) and names the KMS error in its log; its API does not say why.
    const reason =
      (sealType === 'static'
        ? `the static seal key this node was given does not open its storage: its stored keys are wrapped with a key whose id is not in its seal stanza (the server log says "unknown key id for data"); the pod's seal-key read another cluster's key (--store, --store-prefix) or the node missed a rotation's restart (restart the pod: seal-key writes the current and previous keys); recovery keys do not unseal, so none are submitted. `
        : `the seal (KMS) is failing: the ${sealType} seal has not unsealed this node (the server retries by itself; its log names the KMS error, e.g. Decrypt denied); recovery keys do not unseal, so none are submitted. `) +
      'If the node was sealed on purpose and resumed since, it unseals only when its server starts: restart the pod';
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
    ...(versions?.pending ?? []).map((candidate) => ({
      keys: candidate.record,
      version: candidate.version,
      pending: true,
    })),
  ];
  const refusedLately = (version: number) => {
    const at = memory.refusedKeys.get(version);
    return at !== undefined && seen.at - at < RECHECK_AFTER_MS;
  };
  const index = candidates.findIndex((candidate) => !refusedLately(candidate.version));
  if (index === -1) {
    const which =
      candidates.length === 1
        ? `the active keys (version ${candidates[0]!.version})`
        : `every stored version (${candidates.map((candidate) => candidate.version).join(', ')})`;
    return hold(
      'keys-rejected',
      `the server refused ${which} of ${settings.unsealKeysName}, each submitted from zero progress: they do not open this node's barrier (README: recovery)`,
    );
  }
  const chosen = candidates[index]!;
  const { progress } = seen.vault.unsealProgress;
  const stray = progress > 0 ? `; ${progress} share(s) someone else submitted are reset first` : '';
  const which = chosen.pending
    ? `the pending keys of an unfinished rotation (version ${chosen.version}; the active ones were refused)`
    : `up to ${chosen.keys.threshold} stored shares`;
  return go('sealed', `health 503; unsealing with ${which}${stray}`, {
    kind: 'unseal',
    keys: chosen.keys,
    version: chosen.version,
    pending: chosen.pending,
    resetProgress: progress > 0,
    laterVersions: candidates.length - index - 1,
    stillSealed: index < candidates.length - 1 ? 'next-version' : 'joining',
  });
}

function decideUnsealed(seen: Observation, memory: Memory, settings: DecideSettings): Decision {
  const { health, clusterId } = seen.vault;
  if (seen.reconcile === undefined)
    return go('ready', `converged and unchanged since the last reconcile (${health})`, { kind: 'done' });
  const keys = required(seen.keys, 'keys');
  const server = seen.server;
  const management = server === undefined ? undefined : managementTokenOf(seen, server);
  if (intentActive(seen) !== undefined) {
    if (management === undefined)
      return hold(
        'no-management-token',
        'a seal intent is active, but no valid token is stored to seal this node with; run vault-bootstrap generate-root (README: recovery)',
      );
    return go('sealed', 'a seal intent is active: sealing this node too', { kind: 'seal', management });
  }
  if (keys.kind === 'invalid') return hold('store-record-invalid', describeInvalidRecord(keys));
  if (keys.kind === 'absent') {
    if (!settings.selfInit) return initializedWithoutKeys(seen, memory, settings);
    const guard = decideSelfInitCluster(seen, settings);
    if (guard !== undefined) return guard;
  } else {
    const downgrade = downgradeHold(seen, keys.value, settings);
    if (downgrade !== undefined) return downgrade;
    const mismatch = sealMismatch(seen, keys.value, settings);
    if (mismatch !== undefined)
      return decideMigrated(seen, memory, keys.value, mismatch, management) ?? hold('seal-mismatch', mismatch);
    if (keys.value.clusterId !== undefined && clusterId !== undefined && clusterId !== keys.value.clusterId) {
      return hold(
        'cluster-mismatch',
        `this node belongs to cluster ${clusterId}, but ${settings.unsealKeysName} opens cluster ${keys.value.clusterId}: it initialized on its own or is pointed at the wrong store; not configuring it (README: recovery)`,
      );
    }
    // The active node writes the storage, and a newer release upgrades it when it becomes active: recorded first, whatever else is due.
    const release = releaseOf(seen);
    if (
      health === 'active' &&
      keys.value.clusterId !== undefined &&
      keys.value.clusterId === clusterId &&
      raisesHighest(release, keys.value.highestServer)
    ) {
      return go(
        'configuring',
        `the active node runs ${release.kind} ${release.version}${keys.value.highestServer ? `, newer than ${keys.value.highestServer.version}` : ''}: recording it in ${settings.unsealKeysName} (the downgrade guard)`,
        { kind: 'record-server-version', keys: { ...keys.value, highestServer: highestOf(release, seen.at) } },
      );
    }
  }
  required(server, 'server');
  if (management === undefined && server!.loginProblem !== undefined) {
    return hold(
      'login-rejected',
      `--self-init: the server refused the sidecar's login: ${server!.loginProblem}; check the auth method and role its initialize stanzas declare and the pod's service account (README: self-initialized OpenBao)`,
    );
  }
  if (management === undefined) {
    return hold(
      'no-management-token',
      'no valid token to configure with: the management token is missing or not accepted and the root token is revoked or invalid; run vault-bootstrap generate-root (README: recovery)',
    );
  }
  const rejected = stillRejected(seen, memory);
  const policies = server!.policiesDiffering.filter((name) => !rejected.has(name));
  const repair = memory.convergedOnce;
  if (policies.length > 0 || server!.roleDiffers || server!.auditDiffers) {
    const differing = [
      ...policies.map((name) => `policy ${name}`),
      ...(server!.roleDiffers ? ['token role provisioner'] : []),
      ...(server!.auditDiffers ? ['audit device'] : []),
    ];
    return go(
      'configuring',
      `${repair ? 'drift' : 'unsealed'} (${health}): ${differing.join(', ')} differ${differing.length === 1 ? 's' : ''} from the desired configuration; writing with the ${management.source} token`,
      {
        kind: 'configure',
        policies,
        role: server!.roleDiffers,
        audit: server!.auditDiffers,
        management,
        repair,
      },
    );
  }
  const own = server!.ownManagementToken;
  const rootToken = valid(seen.rootToken);
  if ((own === 'missing' || own === 'invalid') && server!.rootTokenLive && rootToken?.token && health === 'active') {
    return go(
      'issuing',
      own === 'missing'
        ? 'the sidecar has no management token of its own yet: issuing it with the root token'
        : 'the stored management token is not valid on this server: issuing another with the root token',
      {
        kind: 'issue-management-token',
        rootToken: rootToken.token,
      },
    );
  }
  const ownRecord = valid(seen.managementToken);
  if (own === 'reissue' && ownRecord !== undefined && health === 'active') {
    return go(
      'issuing',
      'the management token is in the last third of its life: issuing its successor, then revoking it',
      {
        kind: 'reissue-management-token',
        record: ownRecord,
      },
    );
  }
  const token = server!.provisionerToken;
  if (token === 'missing' || token === 'invalid' || (token === 'rotate' && health === 'active')) {
    if (health === 'active') {
      const why = {
        missing: 'no provisioner token stored',
        invalid: 'the stored provisioner token is not valid on this server',
        rotate: 'the provisioner token is in the last third of its life',
      }[token];
      const replaced = token === 'missing' ? undefined : valid(seen.provisionerToken);
      return go('issuing', `${why}; issuing with the ${management.source} token`, {
        kind: 'issue-token',
        replaces: token === 'missing' ? 'none' : token === 'invalid' ? 'invalid' : 'expiring',
        replaced,
        management,
        repair,
      });
    }
    return go(
      'issuing',
      `this node is ${health}: waiting for the active node's sidecar to issue the provisioner token`,
      { kind: 'wait', pace: 'join' },
    );
  }
  const current = valid(seen.provisionerToken);
  if (current?.previous !== undefined && Date.parse(current.previous.revokeAt) <= seen.at && health === 'active') {
    return go(
      'issuing',
      `the provisioner token rotated out at its last third has had its --provisioner-overlap (until ${current.previous.revokeAt}): revoking it`,
      {
        kind: 'revoke-previous-token',
        record: { ...current, previous: current.previous },
        management,
      },
    );
  }
  const keptByGenerateRoot = rootToken?.keepUntil !== undefined && Date.parse(rootToken.keepUntil) > seen.at;
  if (
    settings.rootToken === 'revoke' &&
    server!.rootTokenLive &&
    management.source === 'management' &&
    health === 'active' &&
    rootToken?.token &&
    !keptByGenerateRoot
  ) {
    return go('issuing', '--root-token revoke: the management and provisioner tokens are stored and valid', {
      kind: 'revoke-root',
      rootToken: { ...rootToken, token: rootToken.token },
    });
  }
  if (
    keys.kind === 'valid' &&
    keys.value.clusterId === undefined &&
    clusterId !== undefined &&
    memory.opened &&
    health === 'active'
  ) {
    const release = releaseOf(seen);
    const highest = raisesHighest(release, keys.value.highestServer)
      ? { highestServer: highestOf(release, seen.at) }
      : {};
    return go('configuring', `recording the cluster id in ${settings.unsealKeysName} (the split-brain check)`, {
      kind: 'record-cluster-id',
      clusterId,
      keys: { ...keys.value, clusterId, ...highest },
    });
  }
  const rewrap = seen.sealKeyRollout;
  // Not on a self-initialized server: it has no recovery key, and OpenBao's key upgrade stops there (openbao/openbao#3996).
  if (
    health === 'active' &&
    !settings.selfInit &&
    rewrap?.newestKeyId !== undefined &&
    rewrap.ownKeyId === rewrap.newestKeyId &&
    rewrap.rewrappedKeyId !== rewrap.newestKeyId
  ) {
    // OpenBao re-wraps the stored keys with its current static key when a node becomes active;
    // this node's current key is the newest, so the previous key is no longer needed to unseal.
    return go(
      'configuring',
      `static seal: this active node runs on the newest seal key ${rewrap.newestKeyId}, so becoming active re-wrapped the stored keys with it; recording that in ${settings.sealKeyRolloutName}`,
      {
        kind: 'record-seal-rewrap',
        keyId: rewrap.newestKeyId,
      },
    );
  }
  if (rejected.size > 0) {
    // Re-checked at the normal pace: the pass writes nothing while the text is unchanged, and a fixed file is picked up soon.
    return hold('policy-rejected', [...rejected.values()].map((rejection) => rejection.message).join('; '), 'interval');
  }
  return go(
    'ready',
    health === 'active' ? 'configured, provisioner token valid' : `configured, provisioner token valid (${health})`,
    { kind: 'done' },
  );
}

/**
 * An unsealed auto-unseal node whose stored keys are Shamir keys: after a completed seal
 * migration (Shamir → auto-unseal) the former unseal keys are the recovery keys. That is what
 * explains the mismatch, and it is checked before anything is recorded: the active node's
 * sidecar asks the server (a trial recovery-key rotation, cancelled) and stores the keys as
 * type `recovery` only if they are. Anything else stays a seal-mismatch for a person.
 */
function decideMigrated(
  seen: Observation,
  memory: Memory,
  keys: UnsealKeys,
  mismatch: string,
  management: ManagementToken | undefined,
): Decision | undefined {
  const sealType = seen.vault.sealType;
  if (
    seen.vault.migration ||
    keys.type !== 'shamir' ||
    !isAutoUnseal(sealType) ||
    keys.encrypted === true ||
    sealType === undefined
  )
    return undefined;
  if (memory.migratedKeysRefusedAt !== undefined && seen.at - memory.migratedKeysRefusedAt < RECHECK_AFTER_MS) {
    return hold(
      'seal-mismatch',
      `${mismatch}; the server does not take the stored Shamir keys as its recovery keys, so this is not a completed seal migration of this cluster`,
    );
  }
  if (seen.vault.health !== 'active')
    return go(
      'configuring',
      `${mismatch}; the active node's sidecar checks whether a seal migration made them the recovery keys`,
      { kind: 'wait', pace: 'join' },
    );
  if (management === undefined)
    return hold(
      'seal-mismatch',
      `${mismatch}; checking whether a seal migration made them the recovery keys needs the management or root token (vault-bootstrap generate-root)`,
    );
  return go(
    'configuring',
    `the ${sealType} seal unsealed this node and the stored keys are Shamir keys: a completed seal migration makes them the recovery keys; checking that with the server`,
    {
      kind: 'adopt-migrated-keys',
      keys,
      token: management.token,
      sealType,
    },
  );
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
    return hold(
      'cluster-mismatch',
      `this node belongs to cluster ${clusterId}, but ${settings.selfInitClusterName} records cluster ${recorded.value.clusterId} (first seen ${recorded.value.firstSeenAt}): its storage was wiped and it initialized itself anew, or it points at another cluster's store; not configuring it (README: recovery)`,
    );
  }
  if (clusterId === undefined) return undefined;
  return go(
    'configuring',
    `--self-init: first sight of this self-initialized cluster; recording its id in ${settings.selfInitClusterName} (the split-brain check)`,
    {
      kind: 'record-self-init-cluster',
      cluster: { clusterId, firstSeenAt: new Date(seen.at).toISOString(), sealType: sealType ?? '' },
    },
  );
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

/**
 * The downgrade guard: a node older than the highest release recorded active on the cluster is
 * neither unsealed nor configured (an auto-unseal node unseals itself: then it is reported).
 */
function downgradeHold(seen: Observation, keys: UnsealKeys, settings: DecideSettings): Decision | undefined {
  const problem = downgradeOf(releaseOf(seen), keys.highestServer, settings.unsealKeysName);
  if (problem === undefined) return undefined;
  const what =
    seen.vault.health === 'sealed'
      ? 'not unsealing it'
      : 'it is unsealed (its seal did that, or it was before the record), and the sidecar does not configure it';
  return hold('server-downgrade', `${problem}; ${what}`);
}

function releaseOf(seen: Observation): Partial<ServerRelease> {
  return { kind: seen.vault.serverKind, version: seen.vault.version };
}

function highestOf(release: Partial<ServerRelease>, at: number): HighestServer {
  return { kind: release.kind!, version: release.version!, seenAt: new Date(at).toISOString() };
}

/** Why the stored keys cannot serve this seal (a changed seal stanza, a migration), or undefined. */
function sealMismatch(seen: Observation, keys: UnsealKeys, settings: DecideSettings): string | undefined {
  if (seen.vault.migration)
    return `a seal migration is in progress: run vault-bootstrap migrate-seal (or unseal each node with -migrate); the sidecar feeds no keys to it (README: seal migration)`;
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
  const autoUnsealed = isAutoUnseal(sealType) && health !== 'sealed' && !memory.opened;
  const who = autoUnsealed
    ? `its ${sealType} seal unsealed it without us: most likely OpenBao's self-initialization (initialize stanzas in the server config), else another tool; it returned no keys and its root token is revoked, so none are missing`
    : `a person or another tool initialized it and holds its ${isAutoUnseal(sealType) ? 'recovery' : 'unseal'} keys and root token`;
  return hold(
    'initialized-elsewhere',
    `this server was initialized, but not by vault-bootstrap: ${settings.unsealKeysName} is absent and no init claim (${settings.initClaimName}) was ever made under this --store-prefix; ${who}. ` +
      "Nothing is lost and nothing should be wiped: check that --store and --store-prefix name this cluster's records; a self-initialized OpenBao is managed with --self-init and a login its initialize stanzas declare (README: self-initialized OpenBao)",
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

/** Wait for this node to join; through --raft-join's leader when one is given. */
function joinAction(settings: DecideSettings): Action {
  return settings.raftJoin === undefined ? { kind: 'join' } : { kind: 'join', leader: settings.raftJoin };
}

function go(state: State, reason: string, action: Action): Decision {
  return { state, reason, action };
}

/**
 * The rule for a pass that failed (observe, decide or act threw), beside decide's own: a
 * transient fault is waited out; anything else holds on the blocker the error stands for
 * (blockerOf). `run` enters this decision and `plan` prints it, so run reaches no blocker that
 * plan cannot show.
 */
export function decideFailure(error: unknown): Decision {
  const { message } = describeError(error);
  if (isTransientError(error)) return go('waiting', message, { kind: 'wait', pace: 'fast' });
  return hold(blockerOf(error), message);
}

function hold(blocker: Blocker, reason: string, pace: Pace = 'slow'): Decision {
  return { state: 'blocked', reason, action: { kind: 'hold', blocker, pace } };
}

function required<T>(value: T | undefined, what: string): T {
  // observe() reads what each health kind needs; a gap here is a bug, not a server state: a
  // person must see it, a retry would only repeat it.
  if (value === undefined)
    throw new BootstrapError('INTERNAL', `decide: the observation lacks ${what} (a bug: please report it)`);
  return value;
}
