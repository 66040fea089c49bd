import { checkpoint } from '../checkpoints.js';
import { BootstrapError, ConfigError } from '../errors.js';
import type { Secret } from '../secret.js';
import type { StepContext } from '../steps/context.js';
import { managementToken } from '../steps/management-token.js';
import { refuseDowngrade } from '../steps/server-version.js';
import { retryUntilStored } from '../steps/store-secrets.js';
import { custodyProblem, keyTypeFor } from '../seal.js';
import type { UnsealKeys, UnsealKeyVersions } from '../store/records.js';
import { KeyRotationApi, rotationKindOf, serverAccepts, type KeyKind, type RotationStatus } from '../vault/rotation.js';
import { SERVER_TRAITS, serverKindOf } from '../vault/servers.js';

/**
 * What to do about a rotation, from what the store and the server say. Pure: the unit
 * tests are a table of (stored versions, server status) → action.
 *
 * The store's latest pending version carries the nonce of the rotation that produced it.
 * Only that rotation, still in its verification stage on the server, is resumed; any other
 * rotation on the server was started by a run that died before storing its new keys (or by
 * someone else) and is cancelled: until verification completes the server keeps the
 * current keys, so cancelling loses nothing.
 */
export type RotationAction =
  | { kind: 'resume-verification'; pending: UnsealKeys; version: number }
  /** Pending versions whose fate is unknown: find which stored keys the server takes, then start. */
  | { kind: 'settle-then-start'; cancelFirst: boolean }
  | { kind: 'start'; cancelFirst: boolean };

export function decideRotation(stored: UnsealKeyVersions, server: RotationStatus): RotationAction {
  const latestPending = stored.pending[0];
  if (
    latestPending &&
    server.started &&
    server.nonce === latestPending.record.nonce &&
    server.verificationNonce !== ''
  ) {
    return { kind: 'resume-verification', pending: latestPending.record, version: latestPending.version };
  }
  if (stored.pending.length > 0) return { kind: 'settle-then-start', cancelFirst: server.started };
  return { kind: 'start', cancelFirst: server.started };
}

export interface RotationResult {
  kind: KeyKind;
  version: number;
  shares: number;
  threshold: number;
  encrypted: boolean;
  resumed: boolean;
}

/**
 * rotate-keys: a new set of unseal (Shamir) or recovery (auto-unseal) keys, with the
 * guarantee of init: at no instant does the cluster depend on keys the store lacks.
 *
 *   start (verification required) → feed the stored keys → new keys → store them as a
 *   `pending` version, read back → verify with the new keys (the server switches only
 *   now) → store the same keys as `active`.
 *
 * With PGP custodians the new shares are encrypted and cannot be verified by us: the
 * rotation runs without verification and the encrypted shares are stored as `active`.
 */
export async function rotateKeys(context: StepContext): Promise<RotationResult> {
  const { vault, records, log, config, signal } = context;
  const seal = await vault.sealStatus({ signal });
  if (!seal.initialized)
    throw new BootstrapError('VAULT_NOT_INITIALIZED', 'rotate-keys: the server is not initialized');
  if (seal.sealed)
    throw new BootstrapError(
      'VAULT_SEALED',
      'rotate-keys: the server is sealed; unseal it (vault-bootstrap run) first',
    );
  const kind: KeyKind = rotationKindOf(keyTypeFor(seal.type));
  const custody = custodyProblem(keyTypeFor(seal.type), config.recoveryPgpKeys);
  if (custody !== undefined) throw new ConfigError(custody);
  const stored = await records.readUnsealKeyVersions();
  if (stored.active === undefined && stored.pending.length === 0) {
    throw new BootstrapError('STORE_NOT_FOUND', `rotate-keys: ${records.names.unsealKeys} holds no keys`);
  }
  const storedType = (stored.active ?? stored.pending[0]!).record.type;
  if ((storedType === 'shamir') !== (kind === 'unseal')) {
    throw new BootstrapError(
      'STORE_CORRUPT',
      `rotate-keys: ${records.names.unsealKeys} holds ${storedType} keys but the server has a ${seal.type} seal`,
    );
  }
  if ([stored.active, ...stored.pending].some((entry) => entry?.record.encrypted)) {
    throw new ConfigError(
      `${records.names.unsealKeys}: the stored recovery shares are PGP-encrypted, so this program cannot submit them; ` +
        'the custodians rotate with their decrypted shares (bao operator rotate-keys -target=recovery), then store the result',
    );
  }
  await refuseDowngrade(context, 'rotate-keys', (stored.active ?? stored.pending[0]!).record.highestServer);
  // OpenBao's sys/rotate needs a token (the management policy grants it); Vault's sys/rekey needs none.
  const { token } = await managementToken(context);
  const health = await vault.health({ signal });
  const server = serverKindOf(health.body);
  const rotation = new KeyRotationApi(vault.client, server, kind, token);
  log.info(
    {
      event: 'rotation-begins',
      server: SERVER_TRAITS[server].name,
      version: health.body.version ?? null,
      path: rotation.path,
      kind,
    },
    `rotating the ${kind} keys`,
  );

  const action = decideRotation(stored, await rotation.status());
  if (action.kind === 'resume-verification') {
    log.info(
      { event: 'rotation-verification-resumed', version: action.version },
      'resuming the verification of the stored pending keys',
    );
    await verify(context, rotation, action.pending);
    const version = await markActive(context, action.pending);
    return {
      kind,
      version,
      shares: action.pending.shares,
      threshold: action.pending.threshold,
      encrypted: false,
      resumed: true,
    };
  }
  if (action.cancelFirst) {
    log.warn(
      { event: 'rotation-cancelled' },
      'cancelling the rotation in progress on the server: its new keys were never stored (a run died before storing them, or another client started it)',
    );
    await rotation.cancel();
  }
  let current = stored.active?.record;
  if (action.kind === 'settle-then-start') current = await settle(context, rotation, stored);
  if (current === undefined)
    throw new BootstrapError(
      'KEYS_REJECTED',
      `rotate-keys: no stored version of ${records.names.unsealKeys} is accepted by the server`,
    );

  const split = kind === 'unseal' ? config.splitGiven.secret : config.splitGiven.recovery;
  const shares = split ? (kind === 'unseal' ? config.secretShares : config.recoveryShares) : current.shares;
  const threshold = split ? (kind === 'unseal' ? config.secretThreshold : config.recoveryThreshold) : current.threshold;
  const custodians = config.recoveryPgpKeys;
  if (custodians && custodians.length !== shares) {
    throw new ConfigError(
      `--recovery-pgp-keys/VB_RECOVERY_PGP_KEYS: ${custodians.length} public key(s) for ${shares} recovery shares; give one key per share (or --recovery-shares)`,
    );
  }
  const started = await rotation.start({
    shares,
    threshold,
    requireVerification: custodians === undefined,
    ...(custodians ? { pgpKeys: custodians.map((key) => key.keyBase64) } : {}),
  });
  checkpoint('rotation-started');
  log.info(
    { event: 'rotation-started', shares, threshold, custodians: custodians?.length ?? 0 },
    'rotation started; submitting the current keys',
  );

  return context.secretsInFlight.hold(async () => {
    const newKeys = await feedCurrentKeys(rotation, current, started.nonce);
    checkpoint('rotation-keys-received');
    const now = new Date().toISOString();
    const record: UnsealKeys = {
      type: current.type,
      keys: newKeys.keys,
      threshold,
      shares,
      initializedAt: current.initializedAt,
      status: custodians ? 'active' : 'pending',
      rotatedAt: now,
      nonce: started.nonce,
      ...(current.clusterId ? { clusterId: current.clusterId } : {}),
      ...(current.highestServer ? { highestServer: current.highestServer } : {}),
      ...(custodians
        ? {
            encrypted: true,
            fingerprints: newKeys.fingerprints.length ? newKeys.fingerprints : custodians.map((key) => key.fingerprint),
          }
        : {}),
    };
    await retryUntilStored(
      context,
      'store-rotated-keys',
      'storing the new keys failed; retrying (the server still takes the current keys until they are verified)',
      () => records.writeUnsealKeys(record),
    );
    if (custodians) {
      log.info(
        { event: 'rotation-encrypted-stored', secret: records.names.unsealKeys, custodians: custodians.length },
        'encrypted recovery shares stored (active: no verification is possible without the custodians)',
      );
      checkpoint('rotation-active-stored');
      const versions = await records.readUnsealKeyVersions();
      return { kind, version: versions.count, shares, threshold, encrypted: true, resumed: false };
    }
    log.info(
      { event: 'rotation-pending-stored', secret: records.names.unsealKeys },
      'new keys stored as pending and read back; verifying them',
    );
    checkpoint('rotation-pending-stored');
    await verify(context, rotation, record);
    const version = await markActive(context, record);
    return { kind, version, shares, threshold, encrypted: false, resumed: false };
  });
}

/** Submits the current keys until the rotation completes; the completing answer holds the new keys. */
async function feedCurrentKeys(
  rotation: KeyRotationApi,
  current: UnsealKeys,
  nonce: string,
): Promise<{ keys: Secret[]; fingerprints: string[] }> {
  for (const key of current.keys) {
    const answer = await rotation.update(key, nonce);
    if (answer.complete) return { keys: answer.keys, fingerprints: answer.fingerprints };
  }
  await rotation.cancel();
  throw new BootstrapError(
    'KEYS_REJECTED',
    `rotate-keys: every stored key was submitted and the rotation did not complete (the server wants more shares than the store holds)`,
  );
}

/**
 * Submits the new keys to the verification from where the server stands (a resumed run may
 * find some already in). The server switches to the new keys when the threshold is in.
 * A failed verification (a share submitted twice across a crash) restarts under a new
 * nonce: read it and go again.
 */
async function verify(context: StepContext, rotation: KeyRotationApi, pending: UnsealKeys): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    const status = await rotation.verificationStatus();
    if (!status.started)
      throw new BootstrapError(
        'ROTATION_FAILED',
        'rotate-keys: the server has no verification in progress for the stored pending keys',
      );
    try {
      for (const key of pending.keys.slice(status.progress)) {
        if ((await rotation.verify(key, status.nonce)).complete) {
          checkpoint('rotation-verified');
          context.log.info({ event: 'rotation-verified' }, 'new keys verified: the server now takes only them');
          return;
        }
      }
      throw new BootstrapError(
        'ROTATION_FAILED',
        'rotate-keys: every new key was submitted and the verification did not complete',
      );
    } catch (error) {
      if (!(error instanceof BootstrapError) || error.code !== 'KEYS_REJECTED' || attempt >= 2) throw error;
      context.log.warn(
        { event: 'rotation-verification-restarted', attempt },
        'the verification restarted on the server; submitting the new keys again',
      );
    }
  }
}

/** The verified keys become a new version marked active; returns its version number. */
async function markActive(context: StepContext, pending: UnsealKeys): Promise<number> {
  const { records, log } = context;
  const active: UnsealKeys = { ...pending, status: 'active' };
  await retryUntilStored(
    context,
    'store-rotated-keys',
    'marking the new keys active failed; retrying (the pending version already opens the server)',
    () => records.writeUnsealKeys(active),
  );
  checkpoint('rotation-active-stored');
  const versions = await records.readUnsealKeyVersions();
  log.info(
    { event: 'rotation-complete', secret: records.names.unsealKeys, version: versions.count },
    'rotation complete: the new keys are stored as the active version',
  );
  return versions.count;
}

/**
 * A pending version whose rotation is no longer on the server was either verified (the
 * server takes it now) or dropped (the server still takes the active one). Ask the server:
 * a trial rotation accepts only the current keys. A pending version it accepts is stored
 * as active. Returns the keys the server takes.
 */
async function settle(
  context: StepContext,
  rotation: KeyRotationApi,
  stored: UnsealKeyVersions,
): Promise<UnsealKeys | undefined> {
  const candidates = [...stored.pending, ...(stored.active ? [stored.active] : [])];
  for (const candidate of candidates) {
    if (!(await serverAccepts(rotation, candidate.record))) continue;
    if (candidate.record.status === 'pending') {
      context.log.info(
        { event: 'pending-keys-activated', version: candidate.version },
        'the server takes the stored pending keys (their verification completed before a crash): marking them active',
      );
      await markActive(context, candidate.record);
    } else {
      context.log.info(
        { event: 'pending-keys-stale', version: candidate.version, stale: stored.pending.length },
        'the server takes the active keys: the pending version(s) after them were never verified',
      );
    }
    return { ...candidate.record, status: 'active' };
  }
  return undefined;
}
