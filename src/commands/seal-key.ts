import { randomBytes } from 'node:crypto';
import { checkpoint } from '../checkpoints.js';
import { BootstrapError, describeError, StoreAlreadyExistsError } from '../errors.js';
import { Secret } from '../secret.js';
import { chooseSealKeys, rolloutComplete } from '../seal-key/choose.js';
import { writeSealKeyFiles } from '../seal-key/files.js';
import type { StepContext } from '../steps/context.js';
import { keyIdOf, SEAL_KEY_BYTES, SealKeyRecords, type SealKey, type SealKeyVersion } from '../store/seal-key.js';
import { Backoff, sleep } from '../wait.js';

export interface SealKeyResult {
  /** The key written as current: its id and store version (never a key byte). */
  keyId: string;
  version: number;
  previousKeyId: string | null;
  /** This run generated the cluster's first key (it won the create-if-absent). */
  generated: boolean;
}

/** A fresh 32-byte key as a record: the id derived from it. */
export function newSealKey(at: Date): SealKey {
  const bytes = randomBytes(SEAL_KEY_BYTES);
  const record = { keyId: keyIdOf(bytes), key: new Secret(bytes.toString('base64')), createdAt: at.toISOString() };
  bytes.fill(0);
  return record;
}

/**
 * seal-key (init container, SPEC §13): the cluster's static seal key(s) into --seal-key-dir
 * before the server starts. First start of the cluster: one key generated under
 * create-if-absent (one winner however many pods race; the others read the winner's), read back
 * and compared before any file is written. Then the choice of current and previous (choose.ts),
 * the files, and this node's entry in the rollout record.
 */
export async function sealKey(context: StepContext): Promise<SealKeyResult> {
  const { config, log } = context;
  const sealKeyConfig = config.sealKey!;
  const records = new SealKeyRecords(context.records.store, config.storePrefix);
  let versions = await records.readVersions();
  let generated = false;
  if (versions.length === 0) {
    const candidate = newSealKey(new Date());
    try {
      await records.createFirst(candidate);
      checkpoint('seal-key-created');
      generated = true;
      log.info(
        { event: 'seal-key-generated', keyId: candidate.keyId },
        `generated the cluster's static seal key ${candidate.keyId} into ${records.sealKeyName}`,
      );
    } catch (error) {
      if (!(error instanceof StoreAlreadyExistsError)) throw error;
      log.info({ event: 'seal-key-exists' }, `${records.sealKeyName} was created by another pod: reading its key`);
    }
    versions = await waitForFirstVersion(context, records);
    const first = versions[0]!;
    if (generated && !(first.record?.keyId === candidate.keyId && first.record.key.equals(candidate.key))) {
      throw new BootstrapError(
        'STORE_MISMATCH',
        `${records.sealKeyName}: the first version read back differs from the key written`,
      );
    }
  }
  const rollout = await records.readRollout();
  const choice = chooseSealKeys(records.sealKeyName, versions, rollout);
  await writeSealKeyFiles(
    sealKeyConfig.directory,
    choice.current.record,
    choice.previous?.record,
    sealKeyConfig.uid,
  ).catch((error: NodeJS.ErrnoException) => {
    // Ours already (--seal-key-uid refused by chown): it names the option.
    if (error instanceof BootstrapError) throw error;
    throw new BootstrapError(
      'INTERNAL',
      `--seal-key-dir ${sealKeyConfig.directory}: cannot write the key files (${error.code ?? 'write failed'})`,
    );
  });
  checkpoint('seal-key-files-written');
  log.info(
    {
      event: 'seal-key-written',
      keyId: choice.current.record.keyId,
      version: choice.current.version,
      previousKeyId: choice.previous?.record.keyId ?? null,
      reason: choice.reason,
    },
    `wrote the static seal key ${choice.current.record.keyId} (version ${choice.current.version})${choice.previous ? ` and the previous key ${choice.previous.record.keyId}: ${choice.reason}` : ''}`,
  );
  const node = config.holder;
  const keyId = choice.current.record.keyId;
  // Best effort: the files are what the server needs. A node whose entry could not be written
  // only delays dropping a previous key (until its next start), never drops it early.
  try {
    await records.updateRollout((seen) =>
      seen.nodes[node]?.keyId === keyId
        ? undefined
        : { ...seen, nodes: { ...seen.nodes, [node]: { keyId, at: new Date().toISOString() } } },
    );
  } catch (error) {
    if (!(error instanceof BootstrapError) || !error.transient) throw error;
    log.warn(
      { event: 'seal-key-rollout-not-recorded', secret: records.rolloutName, error: describeError(error) },
      `could not record this node's key in ${records.rolloutName}; the previous key stays in the files until it is recorded at a later start`,
    );
  }
  return { keyId, version: choice.current.version, previousKeyId: choice.previous?.record.keyId ?? null, generated };
}

/**
 * A pod that lost the create waits for the winner's first version: on AWS it is there at once
 * (the secret is created with its value); on GCP the secret and its first version are two calls.
 * Bounded by --timeout; the winner's pod restarting finishes nothing, so say what to do.
 */
async function waitForFirstVersion(context: StepContext, records: SealKeyRecords): Promise<SealKeyVersion[]> {
  const giveUpAt = Date.now() + context.config.timeoutMs;
  const backoff = new Backoff(200, 5_000);
  for (;;) {
    const versions = await records.readVersions();
    if (versions.length > 0) return versions;
    if (Date.now() >= giveUpAt || context.signal.aborted) {
      throw new BootstrapError(
        'STORE_NOT_FOUND',
        `${records.sealKeyName} exists with no version: the pod that created it stopped before storing its key. No server can hold that key, so deleting the empty secret is safe; the next start generates one`,
      );
    }
    await sleep(backoff.next(), context.signal);
  }
}

export interface RotateSealKeyResult {
  keyId: string;
  version: number;
  previousKeyId: string;
}

/**
 * rotate-seal-key: a new key version. Refused while the previous rotation's rollout is not
 * complete (its previous key may still wrap the stored keys; a third key would leave a node
 * holding neither). The pods pick the new key up at their next start (a rolling restart).
 */
export async function rotateSealKey(context: StepContext): Promise<RotateSealKeyResult> {
  const { config, log } = context;
  const records = new SealKeyRecords(context.records.store, config.storePrefix);
  const versions = await records.readVersions();
  const newest = versions.at(-1);
  if (newest === undefined)
    throw new BootstrapError(
      'STORE_NOT_FOUND',
      `${records.sealKeyName}: no key to rotate (seal-key generates the first at the cluster's first start)`,
    );
  if (newest.record === undefined)
    throw new BootstrapError(
      'STORE_CORRUPT',
      `${records.sealKeyName}: the latest version (${newest.version}) is not a valid seal key record: ${newest.problem}`,
    );
  // OpenBao re-wraps the stored keys with a new static key only after re-wrapping the recovery
  // key, and a self-initialized server has none: its upgrade stops there ("no recovery key
  // found", openbao/openbao#3996), so the old key would stay needed for ever. Refused, named.
  if ((await context.records.inspectSelfInitCluster()).kind !== 'absent') {
    throw new BootstrapError(
      'ROTATION_FAILED',
      `${records.sealKeyName}: not rotated: ${context.records.names.selfInitCluster} says this cluster initialized itself, and OpenBao does not re-wrap a self-initialized server's stored keys with a new static key (it has no recovery key, where its key upgrade stops: openbao/openbao#3996); the old key would stay needed by every restart`,
    );
  }
  const rollout = await records.readRollout();
  if (versions.length > 1) {
    const { complete, waitingFor } = rolloutComplete(newest.record.keyId, rollout);
    if (!complete) {
      throw new BootstrapError(
        'ROTATION_FAILED',
        `${records.sealKeyName}: the rollout of key ${newest.record.keyId} (version ${newest.version}) is not complete, waiting for ${waitingFor.join(', ')}; restart the pods (kubectl rollout restart) and rotate again once it is`,
      );
    }
  } else if (rollout.rewrapped === undefined) {
    // The only key ever stored wraps the stored keys: recorded first, so that rotations racing
    // this one still write it as the previous key.
    const keyId = newest.record.keyId;
    await records.updateRollout((seen) =>
      seen.rewrapped
        ? undefined
        : { ...seen, rewrapped: { keyId, at: new Date().toISOString(), by: 'rotate-seal-key (the only key stored)' } },
    );
  }
  const record = newSealKey(new Date());
  await records.addVersion(record);
  checkpoint('seal-key-rotated');
  const version =
    (await records.readVersions()).findLast((each) => each.record?.keyId === record.keyId)?.version ??
    versions.length + 1;
  log.info(
    { event: 'seal-key-rotated', keyId: record.keyId, version, previousKeyId: newest.record.keyId },
    `added static seal key ${record.keyId} (version ${version}); each pod writes it at its next start`,
  );
  return { keyId: record.keyId, version, previousKeyId: newest.record.keyId };
}
