import { BootstrapError, describeError } from '../errors.js';
import { classifyHealth } from '../machine/health.js';
import { sleep } from '../wait.js';
import type { Secret } from '../secret.js';
import type { StepContext } from '../steps/context.js';
import { managementToken } from '../steps/management-token.js';
import { VaultApi } from '../vault/api.js';
import { VaultClient } from '../vault/client.js';

/** What became of one node: sealed now, found sealed, not reachable from here, or the server refused. */
interface NodeSealed {
  address: string;
  outcome: 'sealed' | 'was-sealed' | 'unreachable' | 'refused';
  error: string | null;
}

export interface SealReport {
  intent: 'recorded' | 'ended';
  secret: string;
  /** Every node this command tried (the one at --vault-addr and the peers the cluster reports); null for resume. */
  nodes: NodeSealed[] | null;
  /** Why no node could be sealed at all (no token with sudo on sys/seal), else null. */
  error: string | null;
}

/** Vault refuses to seal a standby; once the active node is sealed another is elected, and sealed in the next round. */
const MAX_ROUNDS = 4;
const NEW_ACTIVE_WAIT_MS = 10_000;
const NEW_ACTIVE_POLL_MS = 100;
/** A standby shows in sys/ha-status once it has reported to the active node. */
const PEER_LIST_WAIT_MS = 15_000;
const PEER_LIST_POLL_MS = 250;

/**
 * The emergency brake: record the intent first (so no sidecar unseals a node from this moment
 * on), then seal every node this command can reach itself: the node at --vault-addr and each
 * peer the cluster reports (sys/ha-status), standbys first and the active node last. A node it
 * cannot reach is sealed by its own sidecar, which reads the intent at its next full reconcile
 * (--reconcile-interval at the latest). Needs the management token (sys/seal requires sudo).
 */
export async function sealCluster(context: StepContext, by: string): Promise<SealReport> {
  const { records, config, log } = context;
  await records.writeSealIntent({
    active: true,
    by,
    at: new Date().toISOString(),
    reason: config.reason ?? 'no reason given',
  });
  log.warn(
    { event: 'seal-intent-recorded', secret: records.names.sealIntent, by },
    'seal intent recorded: every sidecar keeps its node sealed until vault-bootstrap resume',
  );
  let token: Secret;
  try {
    token = (await managementToken(context)).token;
  } catch (error) {
    const { message } = describeError(error);
    log.error(
      { event: 'seal-failed', error: { message } },
      'no token to seal with; the sidecars seal their nodes at their next reconcile',
    );
    return { intent: 'recorded', secret: records.names.sealIntent, nodes: [], error: message };
  }
  const nodes = await sealEveryNode(context, token);
  return { intent: 'recorded', secret: records.names.sealIntent, nodes, error: null };
}

async function sealEveryNode(context: StepContext, token: Secret): Promise<NodeSealed[]> {
  const { log, signal } = context;
  const own = context.vault.address.origin;
  const apis = new Map<string, VaultApi>([[own, context.vault]]);
  const outcomes = new Map<string, NodeSealed>();
  const apiFor = (address: string): VaultApi => {
    let api = apis.get(address);
    if (api === undefined) {
      api = new VaultApi(new VaultClient(new URL(address), context.config.tls, context.deadlines));
      apis.set(address, api);
    }
    return api;
  };
  const done = (address: string) => ['sealed', 'was-sealed'].includes(outcomes.get(address)?.outcome ?? '');
  try {
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      const active = await discoverPeers(context, apis, apiFor, token, done);
      let sealedOne = false;
      // Standbys first: sealing the active node first only makes the others elect a new one.
      const order = [...apis.keys()]
        .filter((address) => !done(address))
        .sort((a, b) => Number(a === active) - Number(b === active));
      for (const address of order) {
        const outcome = await sealOne(apiFor(address), token, signal);
        outcomes.set(address, { address, ...outcome });
        if (outcome.outcome === 'sealed') sealedOne = true;
        log.info(
          { event: 'seal-node', address, outcome: outcome.outcome, error: outcome.error },
          `node ${address}: ${outcome.outcome}`,
        );
      }
      const refused = [...outcomes.values()].filter((node) => node.outcome === 'refused').map((node) => node.address);
      if (!sealedOne || refused.length === 0) break;
      if (!(await newActiveAmong(refused.map(apiFor), signal))) break;
    }
  } finally {
    for (const [address, api] of apis) if (address !== own) api.close();
  }
  return [...outcomes.values()];
}

/**
 * Adds the peers the cluster reports (asked of any node still unsealed) to `apis`; returns the
 * active node's address, when one says so. sys/ha-status lists a standby only once it has
 * reported to the active node (every few seconds), so while it lists fewer nodes than the raft
 * configuration holds, it is asked again, for a bounded time. A standby that has not yet found
 * the active node (one just restarted and unsealed) cannot answer at all (OpenBao: HTTP 500
 * "active cluster node not found"): then the active node named by its sys/leader is asked
 * directly, and every node again until PEER_LIST_WAIT_MS has passed. Without a peer list only
 * the own node is sealed and every other waits for its sidecar's next full reconcile, which is
 * why this does not give up at the first refusal.
 */
async function discoverPeers(
  context: StepContext,
  apis: Map<string, VaultApi>,
  apiFor: (address: string) => VaultApi,
  token: Secret,
  done: (address: string) => boolean,
): Promise<string | undefined> {
  const { signal, log } = context;
  const deadline = Date.now() + PEER_LIST_WAIT_MS;
  for (;;) {
    const pending = [...apis].filter(([address]) => !done(address));
    if (pending.length === 0) return undefined;
    for (const [address, api] of pending) {
      try {
        return await peersOf(context, api, apiFor, token, deadline);
      } catch (error) {
        log.debug({ event: 'no-peer-list', address, error: describeError(error) }, 'no peer list from this node');
        const leader = await api.leaderAddress({ signal }).catch(() => undefined);
        if (leader !== undefined) apiFor(new URL(leader).origin);
      }
    }
    if (Date.now() >= deadline || signal.aborted) break;
    await sleep(PEER_LIST_POLL_MS, signal);
  }
  log.warn(
    { event: 'seal-peers-unknown', members: null, known: 0 },
    'no node listed its peers: only the nodes named by --vault-addr are sealed here, the sidecars seal the others at their next reconcile',
  );
  return undefined;
}

/** The peer list of one node (see discoverPeers); throws when this node cannot give one. */
async function peersOf(
  context: StepContext,
  api: VaultApi,
  apiFor: (address: string) => VaultApi,
  token: Secret,
  deadline: number,
): Promise<string | undefined> {
  const { signal, log } = context;
  const members = await api.raftServerCount(token, { signal });
  let nodes = await api.clusterNodes(token, { signal });
  while (members !== undefined && nodes.length < members && Date.now() < deadline && !signal.aborted) {
    await sleep(PEER_LIST_POLL_MS, signal);
    nodes = await api.clusterNodes(token, { signal });
  }
  if (members !== undefined && nodes.length < members) {
    log.warn(
      { event: 'seal-peers-unknown', members, known: nodes.length },
      `the raft configuration holds ${members} servers, but only ${nodes.length} reported an API address: the sidecars seal the others`,
    );
  }
  for (const node of nodes) apiFor(new URL(node.apiAddress).origin);
  const active = nodes.find((node) => node.active);
  return active === undefined ? undefined : new URL(active.apiAddress).origin;
}

async function sealOne(api: VaultApi, token: Secret, signal: AbortSignal): Promise<Omit<NodeSealed, 'address'>> {
  try {
    if (classifyHealth((await api.health({ signal })).status) === 'sealed')
      return { outcome: 'was-sealed', error: null };
    await api.seal(token, { signal });
    return { outcome: 'sealed', error: null };
  } catch (error) {
    const { message } = describeError(error);
    const unreachable = error instanceof BootstrapError && error.code === 'VAULT_UNREACHABLE';
    return { outcome: unreachable ? 'unreachable' : 'refused', error: message };
  }
}

/** Waits for one of these nodes to become active (a new leader once the old one is sealed). */
async function newActiveAmong(apis: VaultApi[], signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + NEW_ACTIVE_WAIT_MS;
  while (Date.now() < deadline && !signal.aborted) {
    for (const api of apis) {
      const status = await api.health({ signal }).then(
        (response) => response.status,
        () => undefined,
      );
      if (classifyHealth(status) === 'active') return true;
    }
    await sleep(NEW_ACTIVE_POLL_MS, signal);
  }
  return false;
}

/** Ends the seal intent: a new version saying so. The sidecars then unseal as usual. */
export async function resumeCluster(context: StepContext, by: string): Promise<SealReport> {
  const { records, log } = context;
  await records.writeSealIntent({ active: false, by, at: new Date().toISOString(), reason: 'resumed' });
  log.info(
    { event: 'seal-intent-ended', secret: records.names.sealIntent, by },
    'seal intent ended: the sidecars unseal as usual',
  );
  return { intent: 'ended', secret: records.names.sealIntent, nodes: null, error: null };
}

export function formatSealReport(report: SealReport): string {
  if (report.intent === 'ended') return `seal intent ended (${report.secret}): the sidecars unseal their nodes`;
  const lines = [
    `seal intent recorded (${report.secret}); every sidecar keeps its node sealed until vault-bootstrap resume`,
  ];
  if (report.error !== null)
    lines.push(`no node sealed by this command (${report.error}): each sidecar seals its node at its next reconcile`);
  for (const node of report.nodes ?? [])
    lines.push(`  ${node.address}: ${node.outcome}${node.error === null ? '' : ` (${node.error})`}`);
  lines.push(
    'a node not sealed here is sealed by its sidecar at its next full reconcile (--reconcile-interval at the latest)',
  );
  return lines.join('\n');
}
