import { BootstrapError } from '../errors.js';
import { classifyHealth } from '../machine/health.js';
import type { StepContext } from '../steps/context.js';
import type { Secret } from '../secret.js';
import { PROVISIONER_ROLE } from '../steps/configure.js';
import type { UnsealKeys } from '../store/records.js';
import { readCatalog, verifyStoredSnapshot, writeVerifiedRestore, type VerifiedRestore } from './catalog.js';
import { answeringHealth, keysVersion, restoreWithThrowaway, unsealRestored } from './restore.js';
import type { Throwaway } from './restore-record.js';
import type { ObjectStore } from './types.js';

/**
 * vault-bootstrap restore-drill (SPEC §12): the newest verified snapshot (or --snapshot ID)
 * restored into an empty throwaway server (--vault-addr: the one the drill's Job starts beside
 * it), with the restore's own steps, then checked: unsealed by the keys version the snapshot
 * names, the snapshot's cluster id, a stored token the restored data accepts, our policies and
 * token role present. Only then is the drill recorded as passed (verified-restore.json beside the
 * snapshots; the sidecar publishes its time). The store is only read: no restore record, no keys
 * made current, and the throwaway keys exist in memory only (a killed drill leaves a throwaway
 * server, which its Job discards).
 */
export async function restoreDrill(
  context: StepContext,
  objects: ObjectStore,
  snapshotId: string | undefined,
): Promise<VerifiedRestore> {
  const { vault, log, signal } = context;
  const catalog = await readCatalog(objects);
  const manifest =
    snapshotId === undefined ? catalog.snapshots[0] : catalog.snapshots.find((each) => each.id === snapshotId);
  if (manifest === undefined)
    throw new BootstrapError(
      'RESTORE_DRILL_FAILED',
      `restore-drill: ${snapshotId === undefined ? 'no verified snapshot' : `no verified snapshot ${snapshotId}`} in ${objects.location} (${catalog.invalid.length} invalid manifest(s)): there is nothing to restore`,
    );
  if (manifest.keysVersion === null)
    throw new BootstrapError(
      'RESTORE_DRILL_FAILED',
      `restore-drill: ${manifest.id} names no keys version (taken from a self-initialized server)`,
    );
  // The throwaway server starts beside the drill (its CronJob): wait for it to answer.
  const health = classifyHealth((await answeringHealth(context)).status);
  if (health !== 'uninitialized')
    throw new BootstrapError(
      'RESTORE_REFUSED',
      `restore-drill: ${vault.address.origin} is ${health}: the drill restores only into an empty throwaway server (never a live one)`,
    );
  const keys = await keysVersion(context, manifest.keysVersion);
  await verifyStoredSnapshot(objects, manifest, signal);
  log.info(
    { event: 'restore-drill-started', snapshot: manifest.id, keysVersion: manifest.keysVersion },
    'restore-drill: the snapshot matches its manifest; restoring it into the throwaway server',
  );
  const throwaway = await throwawayInit(context, keys);
  await restoreWithThrowaway(context, objects, manifest, throwaway, keys, undefined);
  await unsealRestored(context, manifest, keys);
  const checks = ['sha256', `unsealed-with-keys-version-${manifest.keysVersion}`, 'cluster-id'];
  checks.push(...(await checkRestoredData(context)));
  const record: VerifiedRestore = {
    format: 1,
    snapshot: manifest.id,
    clusterId: manifest.clusterId,
    keysVersion: manifest.keysVersion,
    verifiedAt: new Date().toISOString(),
    checks,
  };
  await writeVerifiedRestore(objects, record);
  context.metrics.restoreVerified(Date.parse(record.verifiedAt) / 1000);
  log.info(
    { event: 'restore-verified', snapshot: manifest.id, keysVersion: manifest.keysVersion, checks },
    'restore-drill: the snapshot restored, unsealed with its keys and checked',
  );
  return record;
}

/** sys/init of the throwaway server, with the snapshot keys' split (restore.ts says why); its keys in memory only. */
async function throwawayInit(context: StepContext, keys: UnsealKeys): Promise<Throwaway> {
  const request =
    keys.type === 'shamir'
      ? { secret_shares: keys.shares, secret_threshold: keys.threshold }
      : { recovery_shares: keys.shares, recovery_threshold: keys.threshold };
  const answer = await context.vault.initialize(request);
  return { keys: answer.keys, rootToken: answer.rootToken };
}

/**
 * Reads that need the restored data: a stored token it accepts (the management token, else the
 * root token; the token store is in the data), and with it our policies and the provisioner token
 * role, as written by the sidecar before the snapshot.
 */
async function checkRestoredData(context: StepContext): Promise<string[]> {
  const { vault, records, config, signal } = context;
  const candidates: Array<{ name: string; token: Secret | null }> = [];
  const management = await records.inspectManagementToken();
  if (management.kind === 'valid') candidates.push({ name: 'management', token: management.value.token });
  const root = await records.inspectRootToken();
  if (root.kind === 'valid') candidates.push({ name: 'root', token: root.value.token });
  let accepted: { name: string; token: Secret } | undefined;
  for (const candidate of candidates) {
    if (candidate.token === null) continue;
    if ((await vault.lookupSelf(candidate.token, { signal })) !== undefined) {
      accepted = { name: candidate.name, token: candidate.token };
      break;
    }
  }
  if (accepted === undefined)
    throw new BootstrapError(
      'RESTORE_DRILL_FAILED',
      `restore-drill: the restored data accepts neither stored token (${records.names.managementToken}, ${records.names.rootToken}): the snapshot predates them, or its token store did not come back`,
    );
  const missing: string[] = [];
  for (const name of config.policies.keys())
    if ((await vault.readPolicy(name, accepted.token, { signal })) === undefined) missing.push(`policy ${name}`);
  if ((await vault.readTokenRole(PROVISIONER_ROLE, accepted.token, { signal })) === undefined)
    missing.push(`token role ${PROVISIONER_ROLE}`);
  if (missing.length > 0)
    throw new BootstrapError(
      'RESTORE_DRILL_FAILED',
      `restore-drill: the restored server lacks ${missing.join(', ')}: the snapshot does not hold the configuration the sidecar wrote`,
    );
  return [`${accepted.name}-token-accepted`, 'policies', 'token-role'];
}
