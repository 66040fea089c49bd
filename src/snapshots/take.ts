import { checkpoint } from '../checkpoints.js';
import { BootstrapError } from '../errors.js';
import { classifyHealth } from '../machine/health.js';
import type { StepContext } from '../steps/context.js';
import { managementToken } from '../steps/management-token.js';
import { serverKindOf } from '../vault/servers.js';
import {
  DATA_SUFFIX,
  deleteSnapshot,
  newSnapshotId,
  planRetention,
  readCatalog,
  VerifyingStream,
  writeManifest,
  ORPHAN_AFTER_MS,
  type SnapshotManifest,
} from './catalog.js';
import type { SnapshotConfig } from '../config/snapshots.js';
import type { ObjectStore } from './types.js';

export interface SnapshotResult {
  id: string;
  size: number;
  sha256: string;
  keysVersion: number | null;
  clusterId: string;
  takenAt: string;
  /** Snapshot ids retention removed after this one was published. */
  removed: string[];
}

/**
 * One raft snapshot from the active node, streamed into the object store and verified before it
 * counts (SPEC §12): the server's answer flows through a verifier (gzip magic, size, sha256)
 * into the upload, never into memory whole or onto a disk; only when the store holds the whole
 * object, of the counted size, is the manifest written beside it. Retention runs after that.
 */
export async function takeSnapshot(
  context: StepContext,
  objects: ObjectStore,
  settings: SnapshotConfig,
): Promise<SnapshotResult> {
  const { vault, records, log, signal } = context;
  const health = await vault.health({ signal });
  const kind = classifyHealth(health.status);
  if (kind !== 'active') {
    throw new BootstrapError(
      'SNAPSHOT_NOT_ACTIVE',
      `snapshot: ${vault.address.origin} is ${kind}, not the active node; a standby answers an empty snapshot: point --vault-addr at the active node`,
    );
  }
  const clusterId = health.body.cluster_id ?? '';
  const seal = await vault.sealStatus({ signal });
  const keys = await records.readUnsealKeyVersions();
  const keysVersion = keys.active?.version ?? null;
  if (
    keysVersion !== null &&
    keys.active?.record.clusterId !== undefined &&
    keys.active.record.clusterId !== clusterId
  ) {
    throw new BootstrapError(
      'SNAPSHOT_INVALID',
      `snapshot: ${records.names.unsealKeys} version ${keysVersion} opens cluster ${keys.active.record.clusterId}, but the server is cluster ${clusterId}: refusing to pair them`,
    );
  }
  const { token } = await managementToken(context);
  const takenAt = new Date();
  const id = newSnapshotId(takenAt);
  const object = `${id}${DATA_SUFFIX}`;
  const verifier = new VerifyingStream(`snapshot from ${vault.address.origin}`);
  const body = await vault.readSnapshot(token, { signal });
  log.info(
    { event: 'snapshot-upload-started', id, target: objects.location },
    'snapshot: streaming from the server into the object store',
  );
  body.on('error', (error) => verifier.destroy(error));
  const stored = await objects.put(object, body.pipe(verifier), { contentType: 'application/gzip', signal });
  checkpoint('snapshot-uploaded');
  if (stored.size !== verifier.size) {
    await objects.delete(object).catch(() => undefined);
    throw new BootstrapError(
      'SNAPSHOT_INVALID',
      `snapshot: the store holds ${stored.size} bytes of ${object}, ${verifier.size} were sent: not published`,
    );
  }
  const manifest: SnapshotManifest = {
    format: 1,
    id,
    object,
    clusterId,
    server: { kind: serverKindOf(health.body as Record<string, unknown>), version: health.body.version ?? 'unknown' },
    sealType: seal.type,
    keysVersion,
    takenAt: takenAt.toISOString(),
    size: verifier.size,
    sha256: verifier.sha256,
  };
  await writeManifest(objects, manifest);
  checkpoint('snapshot-published');
  context.metrics.snapshotTaken(manifest.size, Date.parse(manifest.takenAt) / 1000);
  log.info(
    {
      event: 'snapshot-published',
      id,
      size: manifest.size,
      sha256: manifest.sha256,
      keysVersion,
      clusterId,
      target: objects.location,
    },
    'snapshot verified and published',
  );
  const removed = await applyRetention(context, objects, settings);
  return {
    id,
    size: manifest.size,
    sha256: manifest.sha256,
    keysVersion,
    clusterId,
    takenAt: manifest.takenAt,
    removed,
  };
}

/** Retention, after a successful upload only: never the newest verified snapshot; dead uploads once a day old. */
async function applyRetention(context: StepContext, objects: ObjectStore, settings: SnapshotConfig): Promise<string[]> {
  const catalog = await readCatalog(objects);
  const now = Date.now();
  const doomed = planRetention(catalog.snapshots, { retain: settings.retain, maxAgeMs: settings.maxAgeMs }, now);
  for (const manifest of doomed) await deleteSnapshot(objects, manifest);
  for (const orphan of catalog.orphans) {
    if (orphan.createdAt !== undefined && now - Date.parse(orphan.createdAt) > ORPHAN_AFTER_MS)
      await objects.delete(orphan.name);
  }
  if (doomed.length > 0)
    context.log.info(
      {
        event: 'snapshot-retention',
        removed: doomed.map((manifest) => manifest.id),
        kept: catalog.snapshots.length - doomed.length,
      },
      'snapshot retention removed older snapshots',
    );
  return doomed.map((manifest) => manifest.id);
}
