import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkpoint } from '../checkpoints.js';
import { BootstrapError, describeError } from '../errors.js';
import { configureAuditDevice, configurePolicy, configureTokenRole } from '../steps/configure.js';
import type { StepContext } from '../steps/context.js';
import { claimCluster, initialize } from '../steps/initialize.js';
import type { PendingSecrets } from '../steps/spool.js';
import { storeInitSecrets } from '../steps/store-secrets.js';
import { issueManagementToken, managementToken, renewManagementToken } from '../steps/management-token.js';
import { issueProvisionerToken, revokeRootToken } from '../steps/tokens.js';
import { unseal } from '../steps/unseal.js';
import type { Action, Memory, Observation, Pace } from './decide.js';
import type { State } from './states.js';

export interface ActResult {
  memory: Memory;
  /** Undefined: look again at once (the action changed something worth seeing). */
  pace?: Pace;
}

/** How an action reports the states it passes through while it runs (initializing, storing). */
export type Enter = (state: State, reason: string) => void;

/** Does what decide() chose. Every write here is one the observation showed was needed. */
export async function act(context: StepContext, action: Action, seen: Observation, memory: Memory, policies: ReadonlyMap<string, string>, enter: Enter): Promise<ActResult> {
  switch (action.kind) {
    case 'store-spooled':
      await storeSecretsInFlight(context, seen.spool!, 'keys waiting in the spool', enter);
      return { memory };
    case 'claim-and-init':
      return claimAndInitialize(context, action.autoUnseal, memory, enter);
    case 'join':
      await joinCluster(context);
      return { memory, pace: 'join' };
    case 'unseal':
      return unsealNode(context, seen, memory);
    case 'configure':
      return configureServer(context, action, seen, memory, policies);
    case 'issue-management-token': {
      const root = seen.rootToken?.kind === 'valid' ? seen.rootToken.value.token : null;
      if (root !== null) await issueManagementToken(context, root);
      return { memory };
    }
    case 'renew-management-token':
      await renewManagementToken(context);
      return { memory };
    case 'issue-token': {
      const { token } = await managementToken(context);
      const stored = seen.provisionerToken?.kind === 'valid' ? seen.provisionerToken.value : undefined;
      await issueProvisionerToken(context, token, stored);
      if (memory.convergedOnce && action.replaces === 'invalid') context.metrics.driftRepaired('provisioner-token');
      return { memory };
    }
    case 'revoke-root':
      await revokeRootToken(context);
      return { memory };
    case 'record-seal-intent':
      await context.records.writeSealIntent({ active: true, by: context.config.holder, at: new Date(seen.at).toISOString(), reason: 'sealed while running (not by vault-bootstrap seal)' });
      context.log.warn({ secret: context.records.names.sealIntent }, 'the node was sealed while running: recorded as a seal intent; the sidecars keep every node sealed until vault-bootstrap resume');
      return { memory };
    case 'seal': {
      const { token } = await managementToken(context);
      await context.vault.seal(token, { signal: context.signal });
      context.log.warn('sealed this node: a seal intent is active');
      return { memory };
    }
    case 'record-cluster-id': {
      const keys = seen.keys?.kind === 'valid' ? seen.keys.value : undefined;
      if (keys !== undefined) await context.records.writeUnsealKeys({ ...keys, clusterId: action.clusterId });
      context.log.info({ clusterId: action.clusterId, secret: context.records.names.unsealKeys }, 'cluster id recorded with the keys');
      return { memory };
    }
    case 'wait':
    case 'hold':
    case 'done':
      return { memory, pace: action.kind === 'done' ? 'interval' : action.pace };
  }
}

/** Stores keys that exist nowhere else yet; nothing else happens meanwhile, and shutdown waits for it. */
async function storeSecretsInFlight(context: StepContext, pending: PendingSecrets, reason: string, enter: Enter): Promise<void> {
  await context.secretsInFlight.hold(async () => {
    enter('storing', reason);
    await storeInitSecrets(context, pending);
  });
}

async function claimAndInitialize(context: StepContext, autoUnseal: boolean, memory: Memory, enter: Enter): Promise<ActResult> {
  const { vault, signal, log } = context;
  const watch = { emptySince: memory.claimEmptySince };
  const claim = await claimCluster(context, watch);
  const remembered = { ...memory, claimEmptySince: watch.emptySince };
  if (!claim.won) {
    log.info({ holder: claim.holder }, `initialization is claimed by ${claim.holder}; waiting for this node to join the cluster`);
    return { memory: remembered, pace: 'join' };
  }
  checkpoint('claimed');
  // Another node of the cluster may have initialized it since this pass looked.
  if ((await vault.sealStatus({ signal })).initialized) return { memory: remembered };
  await context.secretsInFlight.hold(async () => {
    enter('initializing', autoUnseal ? 'claim held; recovery shares' : 'claim held; Shamir shares');
    const pending = await initialize(context, autoUnseal);
    await storeSecretsInFlight(context, pending, 'init answered', enter);
  });
  return { memory: { ...remembered, opened: true } };
}

/** A follower asks its node to join through --raft-join; without it, raft retry_join does the work. */
async function joinCluster(context: StepContext): Promise<void> {
  const { config, vault, signal, log } = context;
  if (config.raftJoin === undefined) return;
  const leader = config.raftJoin.origin;
  const joined = await vault.joinRaft(leader, { signal }).catch((error: unknown) => {
    log.warn({ leader, error: describeError(error) }, 'raft join failed; will retry');
    return false;
  });
  if (joined) log.info({ leader }, 'joined the raft cluster');
}

async function unsealNode(context: StepContext, seen: Observation, memory: Memory): Promise<ActResult> {
  const keys = seen.keys?.kind === 'valid' ? seen.keys.value : undefined;
  if (keys === undefined) return { memory };
  let unsealed: boolean;
  try {
    unsealed = await unseal(context, keys);
  } catch (error) {
    if (!(error instanceof BootstrapError) || error.code !== 'KEYS_REJECTED') throw error;
    context.log.error({ secret: context.records.names.unsealKeys, error: describeError(error) }, 'the server refused the stored unseal keys');
    return { memory: { ...memory, keysRejectedAt: seen.at } };
  }
  if (unsealed) {
    context.log.info('unsealed');
    checkpoint('unsealed');
    return { memory: { ...memory, keysRejectedAt: undefined, opened: true } };
  }
  // A node joining raft unseals once it has caught up; submitting again at once would only spin.
  context.log.info('still sealed after submitting every stored share (a node joining raft unseals once it has caught up)');
  return { memory, pace: 'join' };
}

async function configureServer(context: StepContext, action: Extract<Action, { kind: 'configure' }>, seen: Observation, memory: Memory, policies: ReadonlyMap<string, string>): Promise<ActResult> {
  const { token } = await managementToken(context);
  const rejectedPolicies = new Map(memory.rejectedPolicies);
  for (const name of action.policies) {
    try {
      await configurePolicy(context, name, policies.get(name)!, token);
      rejectedPolicies.delete(name);
      if (memory.convergedOnce) context.metrics.driftRepaired('policy');
    } catch (error) {
      if (!(error instanceof BootstrapError) || error.code !== 'POLICY_REJECTED') throw error;
      const message = `${error.message} (${policyFile(context, name)})`;
      context.log.error({ policy: name, error: { code: error.code, message } }, `policy ${name} rejected by the server; writing the others`);
      rejectedPolicies.set(name, { textHash: seen.policyHashes.get(name) ?? '', message, at: seen.at });
    }
  }
  if (action.role) {
    await configureTokenRole(context, token);
    if (memory.convergedOnce) context.metrics.driftRepaired('token-role');
  }
  if (action.audit) {
    await configureAuditDevice(context, token);
    if (memory.convergedOnce) context.metrics.driftRepaired('audit-device');
  }
  if (rejectedPolicies.size === 0) checkpoint('configured');
  return { memory: { ...memory, rejectedPolicies } };
}

/** The file a policy came from, for the person who has to fix it. */
function policyFile(context: StepContext, name: string): string {
  const directory = context.config.policiesDirectory;
  const own = directory === undefined ? undefined : join(directory, `${name}.hcl`);
  return own !== undefined && existsSync(own) ? own : `built-in policies/${name}.hcl`;
}
