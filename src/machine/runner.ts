import { createHash } from 'node:crypto';
import { loadPolicies } from '../config.js';
import { checkpoint } from '../checkpoints.js';
import { formatDuration } from '../duration.js';
import { BootstrapError, describeError, isAborted } from '../errors.js';
import type { StepContext } from '../steps/context.js';
import { configure } from '../steps/configure.js';
import { claimCluster, initialize, type ClaimWatch } from '../steps/initialize.js';
import type { PendingSecrets } from '../steps/spool.js';
import { storeInitSecrets } from '../steps/store-secrets.js';
import { inspectProvisionerToken, issueProvisionerToken, managementToken, revokeRootToken } from '../steps/tokens.js';
import { unseal } from '../steps/unseal.js';
import { classifyHealth, type HealthKind } from './health.js';
import type { Outcome, State } from './states.js';
import { Backoff, sleep } from './wait.js';

type Iteration = { outcome: Outcome } | { pauseMs: number };

const GO_ON: Iteration = { pauseMs: 0 };

const ORPHANED_RECOVERY =
  'Vault is initialized but no keys are in the store and none are in flight: restore the keys secret from a backup or an earlier version, ' +
  'or wipe the server storage and run again to initialize anew (README: recovery)';

/**
 * The loop of SPEC §1: observe health, act on it, pause, again. Each pass reads the
 * server and the store afresh, so a restart at any instant resumes where the last
 * process stopped. Transitions are logged once each.
 */
export class Runner {
  readonly #context: StepContext;
  #state: State = 'waiting';
  #lastBeat = Date.now();
  #keysConfirmed = false;
  #configuredPolicies: string | undefined;
  #policies: ReadonlyMap<string, string>;
  #tokenRecheckAt = 0;
  #rootRevoked = false;
  #unreachableReason: string | undefined;
  readonly #claimWatch: ClaimWatch = { emptySince: undefined };
  readonly #said = new Set<string>();
  readonly #waitBackoff = new Backoff(100, 5000);
  readonly #errorBackoff = new Backoff(500, 15_000);

  constructor(context: StepContext) {
    this.#context = context;
    this.#policies = context.config.policies;
  }

  get state(): State {
    return this.#state;
  }

  /**
   * When the loop last started a pass: /healthz says stuck when this grows old. Retrying a
   * store write that holds the only copy of the keys is progress, not a hang: a liveness
   * restart then would only risk the keys.
   */
  get lastBeat(): number {
    return this.#context.secretsInFlight.active ? Date.now() : this.#lastBeat;
  }

  async run(): Promise<Outcome> {
    const { config, signal, log } = this.#context;
    const deadline = config.once ? Date.now() + config.timeoutMs : Number.POSITIVE_INFINITY;
    while (!signal.aborted) {
      this.#lastBeat = Date.now();
      if (this.#lastBeat >= deadline) {
        log.error({ state: this.#state, timeout: formatDuration(config.timeoutMs) }, '--once gave up: not ready within --timeout');
        return 'timed-out';
      }
      let pauseMs: number;
      try {
        const result = await this.#pass();
        if ('outcome' in result) return result.outcome;
        pauseMs = result.pauseMs;
        this.#errorBackoff.reset();
      } catch (error) {
        if (isAborted(error)) break;
        if (error instanceof BootstrapError && (error.code === 'POLICY_REJECTED' || error.code === 'CONFIG_INVALID')) throw error;
        log.warn({ state: this.#state, error: describeError(error) }, 'step failed; will retry');
        pauseMs = this.#errorBackoff.next();
      }
      if (pauseMs > 0) await sleep(Math.min(pauseMs, deadline - Date.now()), signal);
    }
    return 'stopped';
  }

  async #pass(): Promise<Iteration> {
    const { vault, signal, metrics } = this.#context;
    let status: number;
    try {
      status = (await vault.health({ signal })).status;
    } catch (error) {
      if (!(error instanceof BootstrapError) || error.code !== 'VAULT_UNREACHABLE') throw error;
      metrics.vaultUp(false);
      this.#transition('waiting', error.message);
      if (error.message !== this.#unreachableReason) this.#context.log.warn({ reason: error.message }, 'Vault unreachable; retrying');
      this.#unreachableReason = error.message;
      return { pauseMs: this.#waitBackoff.next() };
    }
    metrics.vaultUp(true);
    this.#unreachableReason = undefined;
    // Keys a crashed or timed-out process left in the spool are stored before anything else.
    const pending = await this.#context.spool?.read();
    if (pending !== undefined) return this.#storePending(pending, 'keys waiting in the spool');
    const kind = classifyHealth(status);
    switch (kind) {
      case 'unreachable':
        this.#transition('waiting', `health answered HTTP ${status}`);
        return { pauseMs: this.#waitBackoff.next() };
      case 'unknown':
        this.#sayOnce(`unknown-${status}`, 'warn', `unknown health status ${status}: not acting on it`);
        return { pauseMs: this.#waitBackoff.next() };
      case 'removed':
        this.#sayOnce('removed', 'error', 'this node was removed from the raft cluster: not acting on it; re-join it or replace the pod');
        return { pauseMs: this.#context.config.intervalMs };
      case 'uninitialized':
        this.#waitBackoff.reset();
        return this.#onUninitialized();
      case 'sealed':
        this.#waitBackoff.reset();
        return this.#onSealed();
      default:
        this.#waitBackoff.reset();
        return this.#onUnsealed(kind);
    }
  }

  async #onUninitialized(): Promise<Iteration> {
    const { records, config, vault, signal } = this.#context;
    this.#transition('uninitialized', 'health 501');
    const stored = await records.readUnsealKeys();
    if (stored !== undefined && !config.allowReinit) {
      this.#sayOnce('restore', 'warn', `keys exist in ${records.names.unsealKeys}: not initializing (restore, don't init); waiting for this node to join the initialized cluster (--allow-reinit initializes anew)`);
      return this.#awaitJoin();
    }
    const claim = await claimCluster(this.#context, this.#claimWatch);
    if (!claim.won) {
      this.#sayOnce(`claim-${claim.holder}`, 'info', `initialization is claimed by ${claim.holder}; waiting for this node to join the cluster`);
      return this.#awaitJoin();
    }
    checkpoint('claimed');
    const seal = await vault.sealStatus({ signal });
    if (seal.initialized) return GO_ON;
    const autoUnseal = seal.type !== 'shamir';
    await this.#context.secretsInFlight.hold(async () => {
      this.#transition('initializing', autoUnseal ? `claim held; ${seal.type} seal: recovery shares` : 'claim held; Shamir seal');
      await this.#storePending(await initialize(this.#context, autoUnseal), 'init answered');
    });
    return GO_ON;
  }

  /** A follower waits for raft retry_join to make its node part of the cluster, or asks it to join (--raft-join). */
  async #awaitJoin(): Promise<Iteration> {
    const { config, vault, signal, log } = this.#context;
    if (config.raftJoin !== undefined) {
      const joined = await vault.joinRaft(config.raftJoin.origin, { signal }).catch((error: unknown) => {
        log.warn({ leader: config.raftJoin!.origin, error: describeError(error) }, 'raft join failed; will retry');
        return false;
      });
      if (joined) log.info({ leader: config.raftJoin.origin }, 'joined the raft cluster');
    }
    return { pauseMs: Math.min(config.intervalMs, 1000) };
  }

  async #onSealed(): Promise<Iteration> {
    const { records, vault, signal, config, log } = this.#context;
    this.#transition('sealed', 'health 503');
    const unsealKeys = await records.readUnsealKeys();
    if (unsealKeys === undefined) return this.#onKeysMissing();
    this.#keysConfirmed = true;
    const seal = await vault.sealStatus({ signal });
    if (seal.type !== 'shamir') {
      this.#sayOnce('auto-unseal-sealed', 'error', `the ${seal.type} seal has not unsealed this node: check the seal's key service; not submitting recovery keys`);
      return { pauseMs: config.intervalMs };
    }
    const unsealed = await unseal(this.#context, unsealKeys);
    if (unsealed) {
      log.info('unsealed');
      checkpoint('unsealed');
    }
    else log.info({ progress: (await vault.sealStatus({ signal })).progress }, 'still sealed after submitting every stored share (a node joining raft unseals once it has caught up)');
    return unsealed ? GO_ON : { pauseMs: config.intervalMs };
  }

  async #onUnsealed(kind: HealthKind): Promise<Iteration> {
    const { config } = this.#context;
    if (!this.#keysConfirmed) {
      if ((await this.#context.records.readUnsealKeys()) === undefined) return this.#onKeysMissing();
      this.#keysConfirmed = true;
    }
    const policies = this.#reloadPolicies();
    if (this.#configuredPolicies !== policies) {
      this.#transition('configuring', this.#configuredPolicies === undefined ? `unsealed (${kind})` : 'policies changed');
      const { token } = await managementToken(this.#context);
      await configure(this.#context, this.#policies, token);
      this.#configuredPolicies = policies;
      checkpoint('configured');
    }
    if (Date.now() >= this.#tokenRecheckAt) {
      this.#transition('issuing', 'configured');
      if (!(await this.#ensureProvisionerToken(kind === 'active'))) {
        this.#sayOnce('standby-token', 'info', `this node is ${kind}: waiting for the active node's sidecar to issue the provisioner token`);
        return { pauseMs: 250 };
      }
    }
    if (kind === 'active' && config.rootToken === 'revoke' && !this.#rootRevoked) {
      await revokeRootToken(this.#context);
      this.#rootRevoked = true;
    }
    this.#transition('ready', kind === 'active' ? 'configured, provisioner token valid' : `configured, provisioner token valid (${kind})`);
    checkpoint('ready');
    if (config.once) return { outcome: 'ready' };
    return { pauseMs: config.intervalMs };
  }

  /**
   * Makes sure a valid provisioner token is stored. Only the active node's sidecar issues
   * one, so three replicas never issue three; a standby's answer is whether one exists.
   */
  async #ensureProvisionerToken(mayIssue: boolean): Promise<boolean> {
    const inspected = await inspectProvisionerToken(this.#context);
    let ttlSeconds: number;
    let creationTtlSeconds: number;
    if (inspected.kind === 'valid') {
      ({ ttlSeconds, creationTtlSeconds } = inspected.info);
    } else if (!mayIssue) {
      return inspected.kind === 'rotate';
    } else {
      const { token } = await managementToken(this.#context);
      await issueProvisionerToken(this.#context, token, inspected.kind === 'missing' ? undefined : inspected.stored);
      ttlSeconds = creationTtlSeconds = Math.round(this.#context.config.provisionerTtlMs / 1000);
    }
    // Look again when the token enters the last third of its life.
    this.#tokenRecheckAt = Date.now() + Math.max(1, ttlSeconds - creationTtlSeconds / 3) * 1000;
    return true;
  }

  async #onKeysMissing(): Promise<Iteration> {
    this.#transition('orphaned', 'initialized, but no keys in the store and none in flight');
    this.#sayOnce('orphaned', 'error', ORPHANED_RECOVERY);
    if (this.#context.config.once) return { outcome: 'orphaned' };
    return { pauseMs: this.#context.config.intervalMs };
  }

  async #storePending(pending: PendingSecrets, reason: string): Promise<Iteration> {
    await this.#context.secretsInFlight.hold(async () => {
      this.#transition('storing', reason);
      await storeInitSecrets(this.#context, pending);
    });
    this.#keysConfirmed = true;
    return GO_ON;
  }

  /** Re-reads the policy files (a ConfigMap may change under us); keeps the last good set if the new one is broken. */
  #reloadPolicies(): string {
    try {
      this.#policies = loadPolicies(this.#context.config.policiesDirectory);
    } catch (error) {
      this.#sayOnce(`policies-${describeError(error).message}`, 'error', `policies not reloaded, keeping the last good set: ${describeError(error).message}`);
    }
    const hash = createHash('sha256');
    for (const [name, text] of [...this.#policies].sort(([a], [b]) => a.localeCompare(b))) hash.update(`${name}\0${text}\0`);
    return hash.digest('hex');
  }

  #transition(to: State, reason: string): void {
    if (to === this.#state) return;
    const from = this.#state;
    this.#state = to;
    this.#context.metrics.transition(from, to);
    this.#context.log.info({ from, to, reason }, 'state');
  }

  #sayOnce(key: string, level: 'info' | 'warn' | 'error', message: string): void {
    if (this.#said.has(key)) return;
    this.#said.add(key);
    this.#context.log[level]({ state: this.#state }, message);
  }
}
