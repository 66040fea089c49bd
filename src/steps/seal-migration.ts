import { checkpoint } from '../checkpoints.js';
import { BootstrapError, ConfigError } from '../errors.js';
import type { Secret } from '../secret.js';
import { decodeUnsealKeys, type UnsealKeys } from '../store/records.js';
import { keyTypeFor } from '../seal.js';
import { KeyRotationApi, serverAccepts } from '../vault/rotation.js';
import { serverKindOf } from '../vault/servers.js';
import type { StepContext } from './context.js';
import { managementToken } from './management-token.js';
import { sleep } from '../wait.js';
import { refuseDowngrade } from './server-version.js';
import { retryUntilStored } from './store-secrets.js';

/**
 * Seal migration from Shamir to an auto-unseal seal (awskms, gcpckms, transit, …). The server
 * starts with the new seal stanza and reports `migration: true`; unsealing it with the Shamir
 * keys and `migrate=true` moves the barrier key under the new seal, and from then on the former
 * unseal keys are the recovery keys. The key bytes never change: what the store must learn is
 * their type, and only once the server confirms it.
 */

export interface MigrationResult {
  /** `auto-unseal`: from one auto-unseal seal to another (a KMS onto the static seal): the recovery keys stay what they are. */
  from: 'shamir' | 'auto-unseal';
  to: string;
  version: number;
  /** The server had already migrated (by a person, or a run that stopped): only the record was written. */
  alreadyMigrated: boolean;
  /**
   * What this run did on its node: `recorded` the keys as recovery keys (a single node, or the
   * node that became active); `standby-unsealed` a standby onto the new seal (the migration
   * completes once the active node steps down); `stepped-down` the active node still on the old
   * seal, so that a migrated standby takes over and completes it (restart this node next).
   */
  outcome: 'recorded' | 'standby-unsealed' | 'stepped-down' | 'migrated';
}

/** How long the migrated node may take to become active before the keys can be checked. */
const ACTIVE_WITHIN_MS = 60_000;

/**
 * migrate-seal: submits the stored Shamir keys with `migrate=true`, then records them as a new
 * version of type `recovery`. Crash-safe like rotate-keys: the intent is stored first (a pending
 * version of type recovery), and a re-run at any point resumes: before the migration completes
 * it submits again from zero progress; after it, it only checks and records.
 */
export async function migrateSeal(context: StepContext): Promise<MigrationResult> {
  const { vault, records, log, signal } = context;
  const seal = await vault.sealStatus({ signal });
  if (!seal.initialized)
    throw new ConfigError('migrate-seal: the server is not initialized; there is nothing to migrate');
  const target = seal.type;
  if (keyTypeFor(target) !== 'recovery') {
    const steppedDown = await stepDownForMigration(context, target, seal.sealed);
    if (steppedDown !== undefined) return steppedDown;
    throw new ConfigError(
      `migrate-seal: the server has a ${target} seal and no migration to an auto-unseal seal is in progress: add the new seal stanza to its configuration and restart it first (README: seal migration)`,
    );
  }
  const stored = await records.readUnsealKeyVersions();
  const active = stored.active?.record;
  if (active === undefined)
    throw new BootstrapError('STORE_NOT_FOUND', `migrate-seal: ${records.names.unsealKeys} holds no active keys`);
  // An older release over newer data (a KMS overlay's 2.6.2 over a 2.7.2 cluster) is not migrated: exit 2 before anything.
  await refuseDowngrade(context, 'migrate-seal', active.highestServer);
  if (active.type === 'recovery' && active.encrypted !== true && seal.migration && seal.sealed)
    return migrateBetweenAutoUnsealSeals(context, active, target, stored.count);
  // A run that stopped after recording the recovery keys: nothing is left to do.
  if (active.type === 'recovery' && active.migratedAt !== undefined && !seal.migration && !seal.sealed) {
    log.info(
      { event: 'migration-already-recorded', secret: records.names.unsealKeys },
      'the seal migration is complete and recorded',
    );
    return { from: 'shamir', to: target, version: stored.count, alreadyMigrated: true, outcome: 'recorded' };
  }
  if (active.type !== 'shamir' || active.encrypted === true) {
    throw new ConfigError(
      `migrate-seal: ${records.names.unsealKeys} holds ${active.encrypted ? 'encrypted ' : ''}${active.type} keys; it migrates from Shamir (plaintext unseal keys) only: migrate other seals by hand (README: seal migration)`,
    );
  }
  // The keys are confirmed with the sidecar's management token (as the loop's own adoption does), else the root token.
  if ((await records.inspectManagementToken()).kind !== 'valid' && !(await records.readRootToken())?.token) {
    throw new BootstrapError(
      'NO_MANAGEMENT_TOKEN',
      `migrate-seal needs the management token (${records.names.managementToken}) or the root token to confirm the keys and neither is stored: run vault-bootstrap generate-root first`,
    );
  }

  const alreadyMigrated = !seal.migration && !seal.sealed;
  // The intent an earlier run recorded (a pending version of type recovery), if any.
  const recordedAt = stored.pending.find((entry) => entry.record.migratedAt !== undefined)?.record.migratedAt;
  const migratedAt = recordedAt ?? new Date().toISOString();
  if (!alreadyMigrated) {
    if (!seal.migration)
      throw new BootstrapError(
        'SEAL_FAILING',
        `migrate-seal: the server's ${target} seal has not unsealed it and no migration is in progress: the seal (KMS) is failing (README: recovery)`,
      );
    if (recordedAt === undefined) {
      await records.writeUnsealKeys({ ...active, type: 'recovery', status: 'pending', migratedAt });
      log.info(
        { event: 'migration-recorded', secret: records.names.unsealKeys, to: target },
        'seal migration recorded as a pending version of the keys (type recovery); submitting the Shamir keys with migrate',
      );
    } else {
      log.info(
        { event: 'migration-resumed', startedAt: recordedAt, to: target },
        'resuming the seal migration recorded earlier',
      );
    }
    checkpoint('migration-recorded');
    await submitWithMigrate(context, active);
    checkpoint('migration-unsealed');
    log.info(
      { event: 'migration-unsealed', to: target },
      `unsealed with migrate: the ${target} seal now holds the barrier key`,
    );
  }
  if ((await waitUntilActive(context)) === 'standby') {
    log.info(
      { event: 'migration-standby-unsealed', to: target },
      `this standby runs on the ${target} seal; the active node still runs the old one: run migrate-seal in every other standby restarted with the new seal, then in the active node (it steps down, and a migrated standby takes over and completes the migration) (README: seal migration)`,
    );
    return { from: 'shamir', to: target, version: stored.count, alreadyMigrated, outcome: 'standby-unsealed' };
  }
  const { token } = await managementToken(context);
  const adopted = await adoptMigratedKeys(context, active, token, migratedAt);
  if (adopted !== 'adopted') {
    throw new BootstrapError(
      'KEYS_REJECTED',
      `migrate-seal: the server does not take the stored Shamir keys as its recovery keys${adopted === 'busy' ? ' (a recovery-key rotation is in progress: cancel it or let it finish, then run again)' : ": they are not this cluster's keys"}`,
    );
  }
  const versions = await records.readUnsealKeyVersions();
  return { from: 'shamir', to: target, version: versions.count, alreadyMigrated, outcome: 'recorded' };
}

/** How many times a round of shares is submitted when the server answers one with a transient failure (5xx). */
const MIGRATE_ROUNDS = 3;

/**
 * Submits the keys from zero progress, each with migrate=true, until the server reports unsealed.
 * A transient failure (a 5xx: OpenBao 2.6.2 once answered a share with 500 "barrier seal type of
 * shamir does not match loaded type of awskms" under load) starts a new round from zero progress,
 * after checking the server has not unsealed meanwhile; a refusal (400) is final.
 */
async function submitWithMigrate(context: StepContext, keys: UnsealKeys): Promise<void> {
  const { vault, metrics, signal, log } = context;
  for (let round = 1; ; round += 1) {
    try {
      await vault.resetUnseal({ signal });
      for (const key of keys.keys) {
        const answer = await vault.unseal(key, { signal }, { migrate: true });
        metrics.unsealSubmitted();
        if (!answer.sealed) return;
      }
      throw new BootstrapError(
        'KEYS_REJECTED',
        `migrate-seal: every stored share was submitted and the server is still sealed (it wants more shares than ${context.records.names.unsealKeys} holds)`,
      );
    } catch (error) {
      if (!(error instanceof BootstrapError) || !error.transient || round >= MIGRATE_ROUNDS) throw error;
      log.warn(
        { event: 'migration-unseal-retried', round, error: { code: error.code, message: error.message } },
        'the server failed a share submitted with migrate; submitting the shares again from zero progress',
      );
      await sleep(1_000 * round, signal);
      if (!(await vault.sealStatus({ signal })).sealed) return;
    }
  }
}

/**
 * Until the node is active (a single node, or the node that took over), or known to be a standby
 * of another node: unsealed with migrate while the active node still runs the old seal, it
 * answers sys/health 500 and sys/leader names the active node (OpenBao 2.6.2, measured) until
 * that node steps down.
 */
async function waitUntilActive(context: StepContext): Promise<'active' | 'standby'> {
  const deadline = Date.now() + ACTIVE_WITHIN_MS;
  let standbySightings = 0;
  for (;;) {
    const { status } = await context.vault.health({ signal: context.signal });
    if (status === 200) return 'active';
    const leader = await context.vault.leader({ signal: context.signal });
    standbySightings = leader.address !== undefined && !leader.isSelf ? standbySightings + 1 : 0;
    // Twice in a row, a second apart: a node that just won an election names itself at once.
    if (standbySightings >= 2) return 'standby';
    if (Date.now() > deadline) {
      throw new BootstrapError(
        'VAULT_REQUEST_FAILED',
        `migrate-seal: the server did not become active within ${ACTIVE_WITHIN_MS / 1000} s after the migration (sys/health ${status}); run migrate-seal again on the active node`,
      );
    }
    await sleep(standbySightings > 0 ? 1_000 : 250, context.signal);
  }
}

/**
 * From one auto-unseal seal to another (the old stanza kept with `disabled = "true"`, the new
 * one added: a KMS onto the static seal key): the recovery keys are submitted with migrate and
 * stay the recovery keys, so the store has nothing to learn. A re-run after a kill submits again
 * from zero progress; once migrated, the server runs on the new seal and no migration remains.
 */
async function migrateBetweenAutoUnsealSeals(
  context: StepContext,
  recovery: UnsealKeys,
  target: string,
  version: number,
): Promise<MigrationResult> {
  const { log } = context;
  log.info(
    { event: 'migration-auto-unseal', to: target },
    `submitting the stored recovery keys with migrate: the ${target} seal takes over from the disabled one`,
  );
  await submitWithMigrate(context, recovery);
  checkpoint('migration-unsealed');
  const where = await waitUntilActive(context);
  log.info(
    { event: 'migration-unsealed', to: target },
    `unsealed with migrate: the ${target} seal now holds the root key; the recovery keys are unchanged`,
  );
  return {
    from: 'auto-unseal',
    to: target,
    version,
    alreadyMigrated: false,
    outcome: where === 'standby' ? 'standby-unsealed' : 'migrated',
  };
}

/**
 * A step-down with a non-voter among the standbys leaves the cluster with no active node: a
 * standby restarted for the new seal rejoins raft as a non-voter until autopilot promotes it
 * after its stabilization time (about 10 s; measured on OpenBao 2.6.2, where stepping down before
 * left the old active a standby and the migrated ones answering 500, with no leader). So every
 * raft server must be a healthy voter first; waited for, then refused naming the others.
 */
async function untilEveryServerElectable(context: StepContext, token: Secret): Promise<void> {
  const deadline = Date.now() + ACTIVE_WITHIN_MS;
  for (;;) {
    const servers = await context.vault.raftVoters(token, { signal: context.signal });
    const waiting = (servers ?? []).filter((server) => !server.electable).map((server) => server.id);
    if (waiting.length === 0) return;
    if (Date.now() > deadline)
      throw new BootstrapError(
        'VAULT_REQUEST_FAILED',
        `migrate-seal: not stepping down: raft server(s) ${waiting.join(', ')} are not healthy voters after ${ACTIVE_WITHIN_MS / 1000} s (a restarted node is promoted after its stabilization time), and without them no standby on the new seal could take over; run migrate-seal again once they are`,
      );
    await sleep(1_000, context.signal);
  }
}

/**
 * migrate-seal in the active node of a cluster whose migration a standby's run recorded (a
 * pending recovery version with `migratedAt`), the node itself still on the old seal: it steps
 * down (the management token's policy allows sys/step-down and nothing around it), and a
 * migrated standby takes over and completes the migration; this node is restarted next, with the
 * new seal stanza, and unseals itself. Undefined when that is not the situation.
 */
async function stepDownForMigration(
  context: StepContext,
  sealType: string,
  sealed: boolean,
): Promise<MigrationResult | undefined> {
  const { vault, records, log, signal } = context;
  if (sealed || (await vault.health({ signal })).status !== 200) return undefined;
  const stored = await records.readUnsealKeyVersions();
  // The intent a standby's run recorded: the latest version, the same keys as type recovery, pending.
  const latest = decodeUnsealKeys(await records.store.readLatest(records.names.unsealKeys));
  const startedAt = latest.status === 'pending' && latest.type === 'recovery' ? latest.migratedAt : undefined;
  if (startedAt === undefined || stored.active?.record.type !== 'shamir') return undefined;
  await refuseDowngrade(context, 'migrate-seal', stored.active.record.highestServer);
  const { token } = await managementToken(context);
  await untilEveryServerElectable(context, token);
  await vault.stepDown(token, { signal });
  const deadline = Date.now() + ACTIVE_WITHIN_MS;
  while ((await vault.health({ signal })).status === 200) {
    if (Date.now() > deadline)
      throw new BootstrapError(
        'VAULT_REQUEST_FAILED',
        `migrate-seal: this node stepped down and is still active after ${ACTIVE_WITHIN_MS / 1000} s: no standby could take over; check that the standbys are unsealed on the new seal (migrate-seal in each)`,
      );
    await sleep(250, signal);
  }
  log.info(
    { event: 'migration-stepped-down', from: sealType, startedAt },
    `this active node still on the ${sealType} seal stepped down, so that a standby on the new seal takes over and completes the migration; restart this node with the new seal stanza next: it unseals itself (README: seal migration)`,
  );
  return { from: 'shamir', to: 'the new seal', version: stored.count, alreadyMigrated: false, outcome: 'stepped-down' };
}

/**
 * Whether the server takes these Shamir keys as its recovery keys (a trial recovery-key
 * rotation, verification required, cancelled at once: nothing changes), and if so stores them
 * as a new version of type `recovery`. `busy`: a rotation someone started is in progress, which
 * a trial would cancel, so nothing is asked.
 */
export async function adoptMigratedKeys(
  context: StepContext,
  keys: UnsealKeys,
  token: Secret,
  migratedAt: string = new Date().toISOString(),
): Promise<'adopted' | 'refused' | 'busy'> {
  const { vault, records, log, signal } = context;
  const health = await vault.health({ signal });
  const rotation = new KeyRotationApi(vault.client, serverKindOf(health.body), 'recovery', token);
  if ((await rotation.status()).started) return 'busy';
  if (!(await serverAccepts(rotation, keys))) return 'refused';
  const recovery: UnsealKeys = { ...keys, type: 'recovery', status: 'active', migratedAt };
  await retryUntilStored(
    context,
    'store-migrated-keys',
    'storing the migrated keys as recovery keys failed; retrying (the server already takes them)',
    () => records.writeUnsealKeys(recovery),
  );
  checkpoint('migration-recorded-recovery');
  log.info(
    { event: 'migrated-keys-recorded', secret: records.names.unsealKeys },
    'the server takes the stored Shamir keys as its recovery keys (a completed seal migration): stored them as type recovery',
  );
  return 'adopted';
}
