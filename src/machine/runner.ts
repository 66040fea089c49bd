import { checkpoint } from '../checkpoints.js';
import { loadPolicies } from '../policy.js';
import { formatDuration } from '../duration.js';
import { BootstrapError, describeError, isAborted } from '../errors.js';
import type { StepContext } from '../steps/context.js';
import { act } from './act.js';
import { afterDecision, afterFailure, awayPauseMs } from './cadence.js';
import {
  decide,
  decideFailure,
  decideSettings,
  describeAction,
  EMPTY_MEMORY,
  learn,
  remember,
  type DecideSettings,
  type Memory,
  type Pace,
} from './decide.js';
import { observe } from './observe.js';
import { servesClients } from '../readiness.js';
import { ONCE_OUTCOME, type Blocker, type Outcome, type State } from '../states.js';
import { Backoff, Waker } from '../wait.js';

/** A person must act: re-check at this pace, not at the pace of a transient fault. */
const SLOW_RECHECK_MS = 30_000;

/**
 * The loop of SPEC §1: observe, decide, act, pause, again. Each pass reads the server afresh,
 * and the store whenever a full reconcile is due (cadence.ts: on every event, and every
 * --reconcile-interval), so a restart at any instant resumes where the last process stopped;
 * the only memory is the explicit `Memory` value, dropped when the cluster id changes.
 * A closed connection to the server (a restart) ends the pause at once.
 */
export class Runner {
  readonly #context: StepContext;
  readonly #settings: DecideSettings;
  #memory: Memory = EMPTY_MEMORY;
  #state: State = 'waiting';
  #reason = 'starting';
  #blocker: Blocker | undefined;
  #lastBeat = Date.now();
  #policies: ReadonlyMap<string, string>;
  #policiesReadAt = Number.NEGATIVE_INFINITY;
  #said = '';
  #snapshotting = false;
  readonly #waker = new Waker();
  readonly #errorBackoff = new Backoff(500, 15_000);

  constructor(context: StepContext) {
    this.#context = context;
    this.#policies = context.config.policies;
    this.#settings = decideSettings(context.config, context.records.names);
  }

  get state(): State {
    return this.#state;
  }

  /** Whether this node should take client traffic now (readiness.ts), as far as the loop knows: /readyz adds a live check. */
  get serving(): boolean {
    return servesClients(this.#state, this.#blocker, this.#memory.convergedOnce);
  }

  /** Why the loop is in its state, in words: the /readyz body. */
  get reason(): string {
    return this.#reason;
  }

  /**
   * When the loop last started a pass: /healthz says stuck when this grows old. Retrying a
   * store write that holds the only copy of the keys is progress, not a hang: a liveness
   * restart then would only risk the keys. A snapshot streaming is progress too (bounded by its
   * transfer deadline, and ended sooner when its bytes stop).
   */
  get lastBeat(): number {
    return this.#context.secretsInFlight.active || this.#snapshotting ? Date.now() : this.#lastBeat;
  }

  /** Look again now (a connection to the server closed, or a probe saw it change). */
  wake(): void {
    this.#waker.wake();
  }

  async run(): Promise<Outcome> {
    const { config, signal, log } = this.#context;
    // --once: counted from the process's start (the start-up probe of the store included), not from here.
    const deadline = this.#context.deadlines.runEnd;
    const unsubscribe = this.#context.vault.onConnectionClosed(() => this.wake());
    try {
      while (!signal.aborted) {
        this.#lastBeat = Date.now();
        if (this.#lastBeat >= deadline) {
          log.error(
            { event: 'timed-out', state: this.#state, reason: this.#reason, timeout: formatDuration(config.timeoutMs) },
            '--once gave up: not ready within --timeout',
          );
          return 'timed-out';
        }
        const result = await this.#pass();
        if (typeof result === 'string') return result;
        await this.#waker.sleep(Math.min(result, deadline - Date.now()), signal);
      }
      return 'stopped';
    } finally {
      unsubscribe();
    }
  }

  /** One pass; returns the pause before the next, or how the run ends. */
  async #pass(): Promise<Outcome | number> {
    const { config, metrics } = this.#context;
    const started = performance.now();
    try {
      this.#reloadPolicies();
      const seen = await observe(this.#context, this.#policies, this.#memory);
      metrics.vaultUp(seen.vault.health !== 'unreachable');
      if (seen.sealIntent !== undefined)
        metrics.sealIntent(seen.sealIntent.kind === 'valid' && seen.sealIntent.value.active);
      if (seen.snapshots?.newest !== undefined)
        metrics.snapshotTaken(seen.snapshots.newest.size, seen.snapshots.newest.takenAt / 1000);
      if (seen.snapshots?.verifiedRestoreAt !== undefined)
        metrics.restoreVerified(seen.snapshots.verifiedRestoreAt / 1000);
      if (seen.keys?.kind === 'valid') metrics.keysCreated(seen.keys.value.rotatedAt ?? seen.keys.value.initializedAt);
      if (seen.provisionerToken?.kind === 'valid')
        metrics.provisionerToken(seen.provisionerToken.value.expiresAt, config.provisionerTtlMs / 1000);
      this.#memory = remember(this.#memory, seen);
      const decision = decide(seen, this.#memory, this.#settings);
      this.#memory = afterDecision(this.#memory, seen, decision);
      this.#enter(decision.state, decision.reason);
      if (decision.state === 'waiting') {
        this.#sayOnce(`waiting:${decision.reason}`, () =>
          this.#context.log.warn(
            { event: 'vault-unreachable', reason: decision.reason },
            'Vault unreachable; retrying',
          ),
        );
      }
      const { action } = decision;
      this.#block(action.kind === 'hold' ? action.blocker : undefined, decision.reason);
      if (action.kind === 'done') {
        checkpoint('ready');
        if (config.once) return 'ready';
      }
      if (action.kind === 'hold' && config.once) {
        const outcome = ONCE_OUTCOME[action.blocker];
        if (outcome !== undefined) return outcome;
      }
      if (action.kind !== 'wait' && action.kind !== 'hold' && action.kind !== 'done') {
        this.#context.log.info(
          { event: 'act', action: action.kind, detail: describeAction(action, this.#context.records.names) },
          'act',
        );
      }
      this.#snapshotting = action.kind === 'take-snapshot';
      const result = await act(this.#context, action, seen, this.#policies, (state, reason) =>
        this.#enter(state, reason),
      ).finally(() => (this.#snapshotting = false));
      this.#memory = learn(this.#memory, result.outcome, seen.at);
      // Configured: every policy written, none refused now or earlier (a refused one stays so until its text changes).
      if (result.outcome.kind === 'configured' && this.#memory.rejectedPolicies.size === 0) checkpoint('configured');
      // reconcile: why this pass read the store and the server's configuration; null for a cheap pass.
      this.#context.log.debug(
        {
          event: 'pass',
          action: action.kind,
          reconcile: seen.reconcile ?? null,
          ms: Math.round((performance.now() - started) * 10) / 10,
        },
        'pass',
      );
      this.#errorBackoff.reset();
      return result.pace === undefined ? 0 : this.#pauseFor(result.pace);
    } catch (error) {
      if (isAborted(error)) return 'stopped';
      return this.#onError(error);
    }
  }

  /**
   * The error policy: a transient fault (network, 5xx, 429, throttling) keeps the state and
   * backs off; anything else needs a person: blocked, said once, re-checked slowly, and with
   * --once the run ends with the documented code. An error that is not ours is a bug
   * (`internal-error`): not retried as transient, logged once with its stack, exit 1 with --once.
   */
  #onError(error: unknown): Outcome | number {
    const { log, metrics, config } = this.#context;
    const described = describeError(error);
    this.#memory = afterFailure(this.#memory);
    if (error instanceof BootstrapError && error.code.startsWith('STORE_')) metrics.storeError('pass');
    const decision = decideFailure(error);
    if (decision.action.kind !== 'hold') {
      this.#sayOnce(`transient:${described.message}`, () =>
        log.warn(
          { event: 'transient-failure', state: this.#state, error: described },
          'transient failure; retrying with backoff',
        ),
      );
      return this.#errorBackoff.next();
    }
    const { blocker } = decision.action;
    this.#enter(decision.state, decision.reason);
    this.#block(blocker, decision.reason, described);
    if (config.once) return ONCE_OUTCOME[blocker] ?? 'needs-person';
    return SLOW_RECHECK_MS;
  }

  #pauseFor(pace: Pace): number {
    const { intervalMs } = this.#context.config;
    switch (pace) {
      case 'fast':
        // An answer we do not understand (no unreachableSince) is not a restart: the slow pace.
        return awayPauseMs(Date.now() - (this.#memory.unreachableSince ?? Number.NEGATIVE_INFINITY));
      case 'join':
        return Math.min(intervalMs, 1000);
      case 'interval':
        return intervalMs;
      case 'slow':
        return Math.max(intervalMs, SLOW_RECHECK_MS);
    }
  }

  /**
   * Re-reads the policy files once per --interval (a ConfigMap may change under us: a changed
   * text calls for a reconcile); keeps the last good set if the new one is broken.
   */
  #reloadPolicies(): void {
    if (Date.now() - this.#policiesReadAt < this.#context.config.intervalMs) return;
    this.#policiesReadAt = Date.now();
    try {
      const reloaded = loadPolicies(this.#context.config.policiesDirectory);
      // The same texts keep the same set object, whose hashes observe() then reuses.
      if (!samePolicies(reloaded, this.#policies)) this.#policies = reloaded;
    } catch (error) {
      const { message } = describeError(error);
      this.#sayOnce(`policies:${message}`, () =>
        this.#context.log.error(
          { event: 'policies-not-reloaded', error: { message } },
          `policies not reloaded, keeping the last good set: ${message}`,
        ),
      );
    }
  }

  #enter(to: State, reason: string): void {
    this.#reason = reason;
    if (to === this.#state) return;
    const from = this.#state;
    this.#state = to;
    this.#context.metrics.transition(from, to);
    this.#context.log.info({ event: 'state', from, to, reason }, 'state');
  }

  /** Sets the blocker in force; logs each new one once, not every pass. */
  #block(blocker: Blocker | undefined, reason: string, error?: ReturnType<typeof describeError>): void {
    if (blocker !== this.#blocker) this.#context.metrics.blocked(blocker);
    this.#blocker = blocker;
    if (blocker === undefined) return;
    this.#sayOnce(`blocked:${blocker}:${reason}`, () =>
      this.#context.log.error(
        { event: 'blocked', blocker, reason, ...(error === undefined ? {} : { error }) },
        'needs a person',
      ),
    );
  }

  /** Says something once until something else has been said: a change is news, a repeat is not. */
  #sayOnce(key: string, say: () => void): void {
    if (key === this.#said) return;
    this.#said = key;
    say();
  }
}

function samePolicies(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, text] of a) if (b.get(name) !== text) return false;
  return true;
}
