import { checkpoint } from '../checkpoints.js';
import { BootstrapError } from '../errors.js';
import { classifyHealth, type HealthKind } from '../machine/health.js';
import type { StepContext } from '../steps/context.js';
import { submitUnsealKeys } from '../steps/unseal.js';
import { decodeUnsealKeys, type UnsealKeys } from '../store/records.js';
import { sleep } from '../wait.js';
import { readCatalog, verifyStoredSnapshot, VerifyingStream, type SnapshotManifest } from './catalog.js';
import {
  createRestoreRecord,
  readRestoreRecord,
  restoreRecordName,
  ThrowawaySpool,
  writeRestoreStage,
  type RestoreRecord,
  type Throwaway,
} from './restore-record.js';
import type { ObjectStore } from './types.js';

export interface RestoreResult {
  snapshot: string;
  keysVersion: number;
  clusterId: string;
  /** This run picked up a restore an earlier run (killed) had started. */
  resumed: boolean;
}

/** How long the server may take to become active after an unseal, or to seal itself after a restore. */
const SETTLE_MS = 60_000;
/** A resumed restore gives a server that still serves the throwaway cluster this long to seal itself (a force-restore just before the kill). */
const RESUME_SETTLE_MS = 15_000;

/**
 * An empty server brought back from a verified snapshot and the keys version it names (SPEC §12):
 *
 *   verify the object (size, sha256) → record the restore (create-if-absent: one winner) →
 *   throwaway init (1 share; its key and token in memory and the spool only) → unseal with it →
 *   force-restore the snapshot → unseal with the snapshot's keys version → record done.
 *
 * Every step is decided from what the server and the record say now, so a run killed at any
 * instant is resumed by the next one; where resuming needs the throwaway key and it is gone (no
 * spool), RESTORE_INTERRUPTED says how to start over. The keys version the snapshot names is
 * stored again as the latest (when keys were rotated after the snapshot), so every replica unseals
 * with it; nothing else of the keys records changes.
 *
 * `automatic` (run --restore, on every replica): a restore someone else holds, or one already
 * done, is not this process's to do; it answers undefined and the caller joins as usual.
 */
export async function restoreFromSnapshot(
  context: StepContext,
  objects: ObjectStore,
  options: { snapshotId: string | undefined; automatic: boolean },
): Promise<RestoreResult | undefined> {
  const { vault, records, config, log, signal } = context;
  const catalog = await readCatalog(objects);
  const manifest =
    options.snapshotId === undefined
      ? catalog.snapshots[0]
      : catalog.snapshots.find((each) => each.id === options.snapshotId);
  if (manifest === undefined) {
    const which =
      options.snapshotId === undefined ? 'no verified snapshot' : `no verified snapshot ${options.snapshotId}`;
    throw new BootstrapError(
      'RESTORE_REFUSED',
      `restore: ${which} in ${objects.location} (${catalog.invalid.length} invalid manifest(s))`,
    );
  }
  if (manifest.keysVersion === null)
    throw new BootstrapError(
      'RESTORE_REFUSED',
      `restore: ${manifest.id} names no keys version (taken from a self-initialized server): restore it with the server's own recovery`,
    );
  const keys = await keysVersion(context, manifest.keysVersion);
  const name = restoreRecordName(config.storePrefix, manifest.id);
  const spool = new ThrowawaySpool(config.spoolDirectory);
  let record = await readRestoreRecord(records.store, name);
  const health = await answeringHealth(context);
  const kind = classifyHealth(health.status);
  const mine = record === undefined || record.holder === config.holder;
  log.info(
    {
      event: 'restore-observed',
      snapshot: manifest.id,
      keysVersion: manifest.keysVersion,
      health: kind,
      stage: record?.stage ?? 'none',
      holder: record?.holder,
    },
    'restore: what the server and the store say',
  );

  if (kind === 'uninitialized') {
    if (options.automatic && record !== undefined && (record.stage === 'done' || !mine)) return undefined;
    await verifyStoredSnapshot(objects, manifest, signal);
    const started: RestoreRecord = {
      snapshot: manifest.id,
      keysVersion: manifest.keysVersion,
      clusterId: manifest.clusterId,
      holder: config.holder,
      startedAt: new Date().toISOString(),
      stage: 'started',
      at: new Date().toISOString(),
    };
    if (record === undefined) {
      if (!(await createRestoreRecord(records.store, name, started))) {
        record = await readRestoreRecord(records.store, name);
        if (options.automatic) return undefined;
        throw new BootstrapError(
          'RESTORE_REFUSED',
          `restore: ${record?.holder ?? 'another process'} started restoring ${manifest.id} at ${record?.startedAt ?? 'an unknown time'}; wait for it (or, if it is gone, run restore again)`,
        );
      }
    } else {
      await writeRestoreStage(records.store, name, started);
    }
    checkpoint('restore-recorded');
    const resumed = record !== undefined && record.stage !== 'done';
    const throwaway = await throwawayInit(context, keys, spool);
    await restoreWithThrowaway(context, objects, manifest, throwaway, keys, { name, record: started });
    return finish(context, manifest, keys, { name, record: started }, spool, resumed);
  }

  if (record === undefined || record.stage === 'done' || (options.automatic && !mine)) {
    if (options.automatic) return undefined;
    throw new BootstrapError(
      'RESTORE_REFUSED',
      `restore: ${vault.address.origin} is initialized (${kind}): a restore only brings back an empty server; stop it and delete its raft data first if that is what you mean`,
    );
  }
  // A restore in progress, killed somewhere after its throwaway init.
  const current = { name, record };
  // Killed just after the force-restore: the server seals itself a moment later; let it settle first.
  const settled = !isServing(kind)
    ? kind
    : health.body.cluster_id === manifest.clusterId
      ? 'restored'
      : await settle(context, manifest, RESUME_SETTLE_MS);
  if (settled === 'sealed' && keys.type === 'shamir') {
    const outcome = await submitUnsealKeys(context, keys, true);
    if (outcome === 'unsealed') return finish(context, manifest, keys, current, spool, true);
  } else if (settled === 'restored') {
    return finish(context, manifest, keys, current, spool, true);
  }
  // The server still holds the throwaway init: resume with its key, if the spool kept it.
  const throwaway = await spool.read();
  if (throwaway === undefined) {
    throw new BootstrapError(
      'RESTORE_INTERRUPTED',
      `restore: ${vault.address.origin} holds the throwaway initialization of an interrupted restore of ${manifest.id} and its key is gone (no --spool-dir, or a new pod): stop the server, delete its raft data, start it and run restore again; nothing of the cluster's data or keys was touched`,
    );
  }
  await restoreWithThrowaway(context, objects, manifest, throwaway, keys, current);
  return finish(context, manifest, keys, current, spool, true);
}

/** The keys record's version `version` (1-based), which the snapshot names. */
export async function keysVersion(context: StepContext, version: number): Promise<UnsealKeys> {
  const { records } = context;
  const texts = await records.store.readAllVersions(records.names.unsealKeys);
  const text = texts[version - 1];
  if (text === undefined)
    throw new BootstrapError(
      'RESTORE_REFUSED',
      `restore: the snapshot names version ${version} of ${records.names.unsealKeys}, which holds ${texts.length}: the keys that unseal it are gone`,
    );
  try {
    return decodeUnsealKeys(text);
  } catch {
    throw new BootstrapError(
      'RESTORE_REFUSED',
      `restore: version ${version} of ${records.names.unsealKeys} (the one the snapshot names) is not a valid record`,
    );
  }
}

/**
 * sys/init held in memory (and the spool) only: these keys open nothing once the snapshot is in.
 * The split is the snapshot keys' own: the server keeps the seal configuration it was initialized
 * with in memory after a force-restore (until it restarts), so the snapshot's shares combine only
 * under the same threshold (OpenBao 2.7.2: a 1-of-1 throwaway refuses the restored 3-of-5 keys).
 */
async function throwawayInit(context: StepContext, keys: UnsealKeys, spool: ThrowawaySpool): Promise<Throwaway> {
  const { vault, log } = context;
  const throwaway = await context.secretsInFlight.hold(async () => {
    const request =
      keys.type === 'shamir'
        ? { secret_shares: keys.shares, secret_threshold: keys.threshold }
        : { recovery_shares: keys.shares, recovery_threshold: keys.threshold };
    const answer = await vault.initialize(request);
    const result: Throwaway = { keys: answer.keys, rootToken: answer.rootToken };
    await spool.write(result);
    return result;
  });
  checkpoint('restore-throwaway-initialized');
  log.info(
    { event: 'restore-throwaway-initialized' },
    'restore: throwaway initialization done (its keys kept in memory and the spool only)',
  );
  return throwaway;
}

/**
 * Unseals the throwaway cluster, waits for it to be active, and force-restores the snapshot into
 * it; records the stage in the restore record when there is one (the drill keeps none).
 */
export async function restoreWithThrowaway(
  context: StepContext,
  objects: ObjectStore,
  manifest: SnapshotManifest,
  throwaway: Throwaway,
  keys: UnsealKeys,
  current: { name: string; record: RestoreRecord } | undefined,
): Promise<void> {
  const { vault, log, signal, records } = context;
  const seal = await vault.sealStatus({ signal });
  if (seal.sealed && keys.type === 'shamir') {
    const outcome = await submitUnsealKeys(context, { ...keys, keys: throwaway.keys }, true);
    if (outcome !== 'unsealed')
      throw new BootstrapError(
        'RESTORE_INTERRUPTED',
        `restore: the server does not take the throwaway keys (${outcome}); stop it, delete its raft data, start it and run restore again`,
      );
  }
  await waitFor(context, (kind) => kind === 'active', 'the throwaway-initialized server to become active');
  const verifier = new VerifyingStream(`${objects.location}/${manifest.object}`);
  const source = await objects.get(manifest.object);
  source.on('error', (error) => verifier.destroy(error));
  log.info(
    { event: 'restore-force-started', snapshot: manifest.id },
    'restore: streaming the snapshot into sys/storage/raft/snapshot-force',
  );
  await vault.forceRestoreSnapshot(throwaway.rootToken, source.pipe(verifier), { signal });
  checkpoint('restore-snapshot-restored');
  if (current !== undefined)
    await writeRestoreStage(records.store, current.name, {
      ...current.record,
      stage: 'restored',
      at: new Date().toISOString(),
    });
  log.info(
    { event: 'restore-snapshot-restored', snapshot: manifest.id, size: verifier.size },
    'restore: the server holds the snapshot',
  );
}

/** Unseals with the snapshot's keys (Shamir; an auto-unseal server unseals itself), checks the cluster id, records done. */
async function finish(
  context: StepContext,
  manifest: SnapshotManifest,
  keys: UnsealKeys,
  current: { name: string; record: RestoreRecord },
  spool: ThrowawaySpool,
  resumed: boolean,
): Promise<RestoreResult> {
  const { log, records } = context;
  await unsealRestored(context, manifest, keys);
  checkpoint('restore-unsealed');
  // The cluster now opens with the snapshot's keys version: make it the latest active one (a copy;
  // keys rotated after the snapshot stay as earlier versions), so every replica unseals with it.
  const stored = await records.readUnsealKeyVersions();
  if (stored.active === undefined || stored.active.version !== manifest.keysVersion) {
    const { status: _status, nonce: _nonce, ...active } = keys;
    await records.writeUnsealKeys({ ...active, clusterId: manifest.clusterId });
    log.info(
      { event: 'restore-keys-made-current', keysVersion: manifest.keysVersion },
      "restore: the snapshot's keys version is stored again as the latest",
    );
  }
  await writeRestoreStage(records.store, current.name, {
    ...current.record,
    stage: 'done',
    at: new Date().toISOString(),
  });
  await spool.remove();
  checkpoint('restore-done');
  log.info(
    {
      event: 'restore-done',
      snapshot: manifest.id,
      keysVersion: manifest.keysVersion,
      clusterId: manifest.clusterId,
      resumed,
    },
    'restore: done; the cluster is back with its own keys',
  );
  return { snapshot: manifest.id, keysVersion: manifest.keysVersion!, clusterId: manifest.clusterId, resumed };
}

/**
 * After a force-restore: the server seals itself (its keyring is now the snapshot's) and is
 * unsealed with the keys version the snapshot names (an auto-unseal server unseals itself); it
 * must then be active and serve the snapshot's cluster id.
 */
export async function unsealRestored(
  context: StepContext,
  manifest: SnapshotManifest,
  keys: UnsealKeys,
): Promise<void> {
  const { vault, records } = context;
  // The server seals itself a moment after the force-restore returns (its keyring is now the snapshot's).
  const settled = await waitFor(
    context,
    (kind, clusterId) => kind === 'sealed' || (isServing(kind) && clusterId === manifest.clusterId),
    "the restored server to seal itself or serve the snapshot's cluster",
  );
  if (settled === 'sealed') {
    if (keys.type !== 'shamir')
      await waitFor(context, (kind) => isServing(kind), 'the auto-unseal server to unseal itself with its seal');
    else {
      const outcome = await submitUnsealKeys(context, keys, true);
      if (outcome !== 'unsealed')
        throw new BootstrapError(
          'KEYS_REJECTED',
          `restore: the server does not take version ${manifest.keysVersion} of ${records.names.unsealKeys}, the keys ${manifest.id} names (${outcome})`,
        );
    }
  }
  await waitFor(context, (kind) => kind === 'active', 'the restored server to become active');
  const health = await vault.health({ signal: context.signal });
  if (health.body.cluster_id !== manifest.clusterId) {
    throw new BootstrapError(
      'RESTORE_INTERRUPTED',
      `restore: the server's cluster id is ${health.body.cluster_id ?? 'unknown'}, the snapshot's ${manifest.clusterId}: the restore did not take`,
    );
  }
}

/** After a force-restore: 'sealed', 'restored' (serving the snapshot's cluster), or, when neither comes within `timeoutMs`, what the server is. */
async function settle(
  context: StepContext,
  manifest: SnapshotManifest,
  timeoutMs: number,
): Promise<HealthKind | 'restored'> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let kind: HealthKind = 'unreachable';
    try {
      const health = await context.vault.health({ signal: context.signal });
      kind = classifyHealth(health.status);
      if (isServing(kind) && health.body.cluster_id === manifest.clusterId) return 'restored';
    } catch (error) {
      // HashiCorp Vault answers nothing for a few seconds while it takes the restored data in.
      if (!(error instanceof BootstrapError) || error.code !== 'VAULT_UNREACHABLE') throw error;
    }
    if (kind === 'sealed') return kind;
    if (Date.now() >= deadline) return kind;
    await sleep(250, context.signal);
  }
}

/** sys/health once the server answers (HashiCorp Vault is silent for a few seconds after a force-restore), within SETTLE_MS. */
export async function answeringHealth(context: StepContext): ReturnType<StepContext['vault']['health']> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    try {
      return await context.vault.health({ signal: context.signal });
    } catch (error) {
      if (!(error instanceof BootstrapError) || error.code !== 'VAULT_UNREACHABLE' || Date.now() >= deadline)
        throw error;
    }
    await sleep(500, context.signal);
  }
}

function isServing(kind: HealthKind): boolean {
  return kind === 'active' || kind === 'standby' || kind === 'performance-standby';
}

/** Polls health until `done(kind)`, within SETTLE_MS; a server that does not get there is a named fault. */
async function waitFor(
  context: StepContext,
  done: (kind: HealthKind, clusterId: string | undefined) => boolean,
  what: string,
): Promise<HealthKind> {
  const deadline = Date.now() + SETTLE_MS;
  let kind: HealthKind = 'unknown';
  while (Date.now() < deadline) {
    let clusterId: string | undefined;
    try {
      const health = await context.vault.health({ signal: context.signal });
      kind = classifyHealth(health.status);
      clusterId = health.body.cluster_id;
    } catch (error) {
      if (!(error instanceof BootstrapError) || error.code !== 'VAULT_UNREACHABLE') throw error;
      kind = 'unreachable';
    }
    if (done(kind, clusterId)) return kind;
    await sleep(250, context.signal);
  }
  throw new BootstrapError(
    'VAULT_UNREACHABLE',
    `restore: waited ${SETTLE_MS / 1000}s for ${what}; the server is ${kind}`,
  );
}
