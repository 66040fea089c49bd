import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkpoint } from '../checkpoints.js';
import { BootstrapError, describeError, StoreAlreadyExistsError } from '../errors.js';
import { configureAuditDevice, configurePolicy, configureTokenRole } from '../steps/configure.js';
import type { StepContext } from '../steps/context.js';
import { initialize } from '../steps/initialize.js';
import type { PendingSecrets } from '../steps/spool.js';
import { adoptMigratedKeys } from '../steps/seal-migration.js';
import { storeInitSecrets } from '../steps/store-secrets.js';
import { issueManagementToken } from '../steps/management-token.js';
import { issueProvisionerToken, revokePreviousProvisionerToken, revokeRootToken } from '../steps/tokens.js';
import { submitUnsealKeys } from '../steps/unseal.js';
import { claimName } from '../store/records.js';
import { recordSealRewrap } from '../seal-key/rewrap.js';
import { takeScheduledSnapshot } from '../snapshots/in-loop.js';
import type { Action, ActOutcome, Observation, Pace, PolicyRejection } from './decide.js';
import type { State } from '../states.js';
import { together } from '../wait.js';

export interface ActResult {
  /** What happened, for learn() (memory.ts) to record. */
  outcome: ActOutcome;
  /** Undefined: look again at once (the action changed something worth seeing). */
  pace?: Pace;
}

const ACTED: ActResult = { outcome: { kind: 'acted' } };

/** How an action reports the states it passes through while it runs (initializing, storing). */
export type Enter = (state: State, reason: string) => void;

/**
 * Does what decide() chose, with what the action carries (its payload is complete: act reads
 * no configuration to choose). Its one look before acting is the seal status before sys/init
 * (see claimAndInitialize). It reports what happened (an ActOutcome); learn() records it for
 * the next decide(), which chooses what follows.
 */
export async function act(
  context: StepContext,
  action: Action,
  seen: Pick<Observation, 'at' | 'policyHashes'>,
  policies: ReadonlyMap<string, string>,
  enter: Enter,
): Promise<ActResult> {
  switch (action.kind) {
    case 'store-spooled':
      await storeSecretsInFlight(context, action.pending, 'keys waiting in the spool', enter);
      return ACTED;
    case 'claim-and-init':
      return claimAndInitialize(context, action, enter);
    case 'join':
      if (action.leader !== undefined) await joinCluster(context, action.leader);
      return { ...ACTED, pace: 'join' };
    case 'unseal':
      return unsealNode(context, action);
    case 'configure':
      return configureServer(context, action, seen, policies);
    case 'issue-management-token':
      await issueManagementToken(context, action.rootToken);
      return ACTED;
    case 'reissue-management-token':
      await issueManagementToken(context, action.record.token, action.record);
      return ACTED;
    case 'issue-token':
      await issueProvisionerToken(context, action.management.token, action.replaced, action.replaces);
      if (action.repair && action.replaces === 'invalid') context.metrics.driftRepaired('provisioner-token');
      return ACTED;
    case 'revoke-root':
      await revokeRootToken(context, action.rootToken);
      return ACTED;
    case 'revoke-previous-token':
      await revokePreviousProvisionerToken(context, action.record, action.management.token);
      return ACTED;
    case 'record-seal-intent':
      await context.records.writeSealIntent(action.intent);
      context.log.warn(
        { event: 'seal-intent-recorded', secret: context.records.names.sealIntent },
        'the node was sealed while running: recorded as a seal intent; the sidecars keep every node sealed until vault-bootstrap resume',
      );
      return ACTED;
    case 'seal':
      await context.vault.seal(action.management.token, { signal: context.signal });
      context.log.warn({ event: 'sealed-for-intent' }, 'sealed this node: a seal intent is active');
      return ACTED;
    case 'record-cluster-id':
      await context.records.writeUnsealKeys(action.keys);
      context.log.info(
        {
          event: 'cluster-id-recorded',
          clusterId: action.clusterId,
          secret: context.records.names.unsealKeys,
          ...(action.keys.highestServer ? { version: action.keys.highestServer.version } : {}),
        },
        'cluster id recorded with the keys',
      );
      return ACTED;
    case 'record-server-version': {
      await context.records.writeUnsealKeys(action.keys);
      const { kind, version } = action.keys.highestServer;
      context.log.info(
        { event: 'server-version-recorded', server: kind, version, secret: context.records.names.unsealKeys },
        `recorded ${kind} ${version} as the highest release active on this cluster: older releases are refused`,
      );
      return ACTED;
    }
    case 'record-self-init-cluster':
      await context.records.writeSelfInitCluster(action.cluster);
      context.log.info(
        {
          event: 'cluster-id-recorded',
          clusterId: action.cluster.clusterId,
          secret: context.records.names.selfInitCluster,
        },
        'cluster id of the self-initialized cluster recorded',
      );
      return ACTED;
    case 'adopt-migrated-keys': {
      const outcome = await adoptMigratedKeys(context, action.keys, action.token);
      if (outcome === 'refused') {
        context.log.error(
          { event: 'migrated-keys-refused', secret: context.records.names.unsealKeys, seal: action.sealType },
          'the server does not take the stored Shamir keys as its recovery keys',
        );
        return { outcome: { kind: 'migrated-keys', result: 'refused' } };
      }
      if (outcome === 'busy') {
        // A trial would cancel the rotation someone started: look again later.
        context.log.warn(
          { event: 'migrated-keys-check-deferred' },
          'a recovery-key rotation is in progress: the migrated keys are checked once it ends',
        );
        return { outcome: { kind: 'migrated-keys', result: 'busy' }, pace: 'slow' };
      }
      return { outcome: { kind: 'migrated-keys', result: 'adopted' } };
    }
    case 'record-seal-rewrap':
      await recordSealRewrap(context, action.keyId);
      return ACTED;
    case 'take-snapshot':
      return { outcome: { kind: 'snapshot', takenAt: await takeScheduledSnapshot(context) }, pace: 'interval' };
    case 'wait':
    case 'hold':
    case 'done':
      return { ...ACTED, pace: action.kind === 'done' ? 'interval' : action.pace };
  }
}

/** Stores keys that exist nowhere else yet; nothing else happens meanwhile, and shutdown waits for it. */
async function storeSecretsInFlight(
  context: StepContext,
  pending: PendingSecrets,
  reason: string,
  enter: Enter,
): Promise<void> {
  await context.secretsInFlight.hold(async () => {
    enter('storing', reason);
    await storeInitSecrets(context, pending);
  });
}

/**
 * Creates the claim generation decide() chose (or goes on with our own), then initializes.
 * Losing the create always means losing, even when the generation then reads empty: GCP
 * creates the secret and its first version in two calls, and the winner may be between them.
 */
async function claimAndInitialize(
  context: StepContext,
  action: Extract<Action, { kind: 'claim-and-init' }>,
  enter: Enter,
): Promise<ActResult> {
  const { vault, signal, log, records } = context;
  const { claim } = action;
  const secret = claimName(records.names.initClaim, claim.generation);
  if (claim.kind === 'create') {
    try {
      await records.createClaim(claim.generation, claim.record);
    } catch (error) {
      if (!(error instanceof StoreAlreadyExistsError)) throw error;
      log.info(
        { event: 'claim-lost', secret, generation: claim.generation },
        `another replica created ${secret} first; waiting for this node to join the cluster`,
      );
      return { outcome: { kind: 'claim-lost', generation: claim.generation }, pace: 'join' };
    }
    log.info(
      { event: 'claim-won', secret, generation: claim.generation, takesOver: claim.takesOver },
      `created ${secret}: this replica initializes`,
    );
  }
  checkpoint('claimed');
  // The one read act makes: sys/init on an initialized node is refused, and the claim was the
  // slow step, so a node that joined its cluster meanwhile is reported, not initialized.
  if ((await vault.sealStatus({ signal })).initialized) {
    log.info(
      { event: 'init-skipped', secret },
      'the node was initialized while the claim was made (it joined its cluster): not initializing',
    );
    return { outcome: { kind: 'init-skipped' } };
  }
  await context.secretsInFlight.hold(async () => {
    enter('initializing', action.keyType === 'recovery' ? 'claim held; recovery shares' : 'claim held; Shamir shares');
    const pending = await initialize(context, action);
    await storeSecretsInFlight(context, pending, 'init answered', enter);
  });
  return { outcome: { kind: 'initialized' } };
}

/** A follower asks its node to join through the leader decide() named (--raft-join). */
async function joinCluster(context: StepContext, leader: string): Promise<void> {
  const { vault, signal, log } = context;
  const joined = await vault.joinRaft(leader, { signal }).catch((error: unknown) => {
    log.warn({ event: 'raft-join-failed', leader, error: describeError(error) }, 'raft join failed; will retry');
    return false;
  });
  if (joined) log.info({ event: 'raft-joined', leader }, 'joined the raft cluster');
}

async function unsealNode(context: StepContext, action: Extract<Action, { kind: 'unseal' }>): Promise<ActResult> {
  const { log, metrics, records } = context;
  if (action.resetProgress) {
    metrics.unsealProgressReset();
    log.warn(
      { event: 'unseal-progress-reset' },
      'the server held unseal shares this process did not submit: reset them before submitting the stored keys',
    );
  }
  const outcome = await submitUnsealKeys(context, action.keys, action.resetProgress);
  switch (outcome) {
    case 'unsealed':
      if (action.pending) {
        await records.writeUnsealKeys({ ...action.keys, status: 'active' });
        log.info(
          { event: 'pending-keys-activated', version: action.version },
          'the pending keys of a verified rotation unsealed the server; stored them as the active version',
        );
      }
      log.info({ event: 'unsealed', version: action.version }, 'unsealed');
      checkpoint('unsealed');
      return { outcome: { kind: 'unsealed' } };
    case 'refused':
      log.error(
        { event: 'keys-refused', version: action.version, secret: records.names.unsealKeys },
        `the server refused version ${action.version} of the stored unseal keys, submitted from zero progress`,
      );
      return { outcome: { kind: 'keys-refused', version: action.version } };
    case 'interfered':
      return { outcome: { kind: 'unseal-pending' }, pace: 'join' };
    case 'still-sealed':
      // Every share in and more wanted: decide() said what that means (a later version to try, or a joining node).
      if (action.stillSealed === 'next-version') {
        await context.vault.resetUnseal({ signal: context.signal });
        log.warn(
          { event: 'keys-insufficient', version: action.version },
          'every share of this version was taken and the server wants more: the split changed with a rotation; trying the pending version next',
        );
        return { outcome: { kind: 'keys-refused', version: action.version } };
      }
      // A node joining raft unseals once it has caught up; submitting again at once would only spin.
      log.info(
        { event: 'unseal-pending-join' },
        'still sealed after submitting every stored share (a node joining raft unseals once it has caught up)',
      );
      return { outcome: { kind: 'unseal-pending' }, pace: 'join' };
  }
}

async function configureServer(
  context: StepContext,
  action: Extract<Action, { kind: 'configure' }>,
  seen: Pick<Observation, 'at' | 'policyHashes'>,
  policies: ReadonlyMap<string, string>,
): Promise<ActResult> {
  const { token } = action.management;
  const succeeded = new Set<string>();
  const rejected = new Map<string, PolicyRejection>();
  const writePolicy = async (name: string): Promise<void> => {
    try {
      await configurePolicy(context, name, policies.get(name)!, token);
      succeeded.add(name);
      if (action.repair) context.metrics.driftRepaired('policy');
    } catch (error) {
      if (!(error instanceof BootstrapError) || error.code !== 'POLICY_REJECTED') throw error;
      const message = `${error.message} (${policyFile(context, name)})`;
      context.log.error(
        { event: 'policy-rejected', policy: name, error: { code: error.code, message } },
        `policy ${name} rejected by the server; writing the others`,
      );
      rejected.set(name, { textHash: seen.policyHashes.get(name) ?? '', message, at: seen.at });
    }
  };
  // Policies and token role at once: each write is whole and idempotent, none depends on
  // another, and the keys were stored before any of them (claim-and-init).
  await together([
    ...action.policies.map(writePolicy),
    action.role
      ? configureTokenRole(context, token).then(() => {
          if (action.repair) context.metrics.driftRepaired('token-role');
        })
      : undefined,
  ]);
  // The audit device alone, after them: HashiCorp Vault fails the requests in flight while its
  // audit devices change (HTTP 500, "internal error"), as it must not serve a request unaudited.
  if (action.audit) {
    await configureAuditDevice(context, token);
    if (action.repair) context.metrics.driftRepaired('audit-device');
  }
  // In the action's order, whichever answered first.
  const written = action.policies.filter((name) => succeeded.has(name));
  return { outcome: { kind: 'configured', written, rejected } };
}

/** The file a policy came from, for the person who has to fix it. */
function policyFile(context: StepContext, name: string): string {
  const directory = context.config.policiesDirectory;
  const own = directory === undefined ? undefined : join(directory, `${name}.hcl`);
  return own !== undefined && existsSync(own) ? own : `built-in policies/${name}.hcl`;
}
