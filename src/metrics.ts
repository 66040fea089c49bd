import { Counter, Gauge, Registry } from 'prom-client';
import { BLOCKERS, STATES, type Blocker, type State } from './states.js';

/** The Prometheus metrics of SPEC §9. Labels are state names and operations, never values. */
export class Metrics {
  readonly registry = new Registry();
  readonly #state = new Gauge({
    name: 'vault_bootstrap_state',
    help: '1 for the current state, 0 for the others',
    labelNames: ['state'],
    registers: [this.registry],
  });
  readonly #transitions = new Counter({
    name: 'vault_bootstrap_transitions_total',
    help: 'State transitions',
    labelNames: ['from', 'to'],
    registers: [this.registry],
  });
  readonly #unseals = new Counter({
    name: 'vault_bootstrap_unseal_total',
    help: 'Unseal key shares submitted',
    registers: [this.registry],
  });
  readonly #progressResets = new Counter({
    name: 'vault_bootstrap_unseal_progress_resets_total',
    help: 'Unseal progress someone else left on the server, reset before submitting the stored keys',
    registers: [this.registry],
  });
  readonly #storeErrors = new Counter({
    name: 'vault_bootstrap_store_errors_total',
    help: 'Failed store operations',
    labelNames: ['op'],
    registers: [this.registry],
  });
  readonly #vaultUp = new Gauge({
    name: 'vault_bootstrap_vault_up',
    help: '1 when Vault answered the last health check',
    registers: [this.registry],
  });
  readonly #blocked = new Gauge({
    name: 'vault_bootstrap_blocked',
    help: '1 for what a person must fix now, 0 for the others',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly #sealIntent = new Gauge({
    name: 'vault_bootstrap_seal_intent',
    help: "1 while an operator's seal intent is active (vault-bootstrap seal … resume)",
    registers: [this.registry],
  });
  readonly #driftRepairs = new Counter({
    name: 'vault_bootstrap_drift_repairs_total',
    help: 'Writes that put back configuration changed on the server after it was ready',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly #provisionerExpiry = new Gauge({
    name: 'vault_bootstrap_provisioner_token_expiry_timestamp_seconds',
    help: 'When the stored provisioner token expires (Unix seconds), as last read from the store',
    registers: [this.registry],
  });
  readonly #provisionerTtl = new Gauge({
    name: 'vault_bootstrap_provisioner_token_ttl_seconds',
    help: 'The lifetime a provisioner token is issued with (--provisioner-ttl)',
    registers: [this.registry],
  });
  readonly #storeCalls = new Counter({
    name: 'vault_bootstrap_store_calls_total',
    help: 'Store operations made (each a billed API call or more), by operation',
    labelNames: ['op'],
    registers: [this.registry],
  });
  readonly #vaultRequests = new Counter({
    name: 'vault_bootstrap_vault_requests_total',
    help: 'Requests sent to Vault; token="true" ones are written to its audit log',
    labelNames: ['token'],
    registers: [this.registry],
  });
  readonly #lastSnapshot = new Gauge({
    name: 'vault_bootstrap_last_snapshot_timestamp_seconds',
    help: 'When the newest verified raft snapshot was taken (Unix seconds), as last seen in --snapshot-to',
    registers: [this.registry],
  });
  readonly #lastSnapshotSize = new Gauge({
    name: 'vault_bootstrap_last_snapshot_size_bytes',
    help: 'Size of the newest verified raft snapshot',
    registers: [this.registry],
  });
  readonly #snapshotFailures = new Counter({
    name: 'vault_bootstrap_snapshot_failures_total',
    help: "The sidecar's scheduled snapshots that failed (op: look, reading --snapshot-to; take, a snapshot not published)",
    labelNames: ['op'],
    registers: [this.registry],
  });
  readonly #lastVerifiedRestore = new Gauge({
    name: 'vault_bootstrap_last_verified_restore_timestamp_seconds',
    help: 'When a restore drill last restored a snapshot into a throwaway server, unsealed it with its paired keys and checked it (Unix seconds)',
    registers: [this.registry],
  });
  #keysCreatedAt: string | undefined;
  readonly #keysAge = new Gauge({
    name: 'vault_bootstrap_keys_age_seconds',
    help: 'Seconds since the active unseal/recovery keys were created (initialized or last rotated)',
    registers: [this.registry],
    collect: () => {
      const age =
        this.#keysCreatedAt === undefined ? Number.NaN : (Date.now() - Date.parse(this.#keysCreatedAt)) / 1000;
      if (Number.isFinite(age)) this.#keysAge.set(Math.max(0, Math.round(age)));
    },
  });

  constructor() {
    for (const state of STATES) this.#state.set({ state }, state === 'waiting' ? 1 : 0);
    this.#vaultUp.set(0);
    for (const reason of BLOCKERS) this.#blocked.set({ reason }, 0);
  }

  /** The newest verified snapshot: when it was taken and its size. */
  snapshotTaken(sizeBytes: number, takenAtSeconds: number): void {
    this.#lastSnapshot.set(takenAtSeconds);
    this.#lastSnapshotSize.set(sizeBytes);
  }

  /** A scheduled snapshot that failed: reading the destination (`look`) or taking one (`take`). */
  snapshotFailed(op: 'look' | 'take'): void {
    this.#snapshotFailures.inc({ op });
  }

  /** A restore drill that passed. */
  restoreVerified(atSeconds: number): void {
    this.#lastVerifiedRestore.set(atSeconds);
  }

  /** The one blocker in force, or none. */
  blocked(current: Blocker | undefined): void {
    for (const reason of BLOCKERS) this.#blocked.set({ reason }, reason === current ? 1 : 0);
  }

  /** The stored provisioner token's expiry and the lifetime tokens are issued with, so an alert can see a rotation that is overdue. */
  provisionerToken(expiresAt: string, ttlSeconds: number): void {
    const expiry = Date.parse(expiresAt) / 1000;
    if (Number.isFinite(expiry)) this.#provisionerExpiry.set(expiry);
    this.#provisionerTtl.set(ttlSeconds);
  }

  sealIntent(active: boolean): void {
    this.#sealIntent.set(active ? 1 : 0);
  }

  driftRepaired(kind: 'policy' | 'token-role' | 'audit-device' | 'provisioner-token'): void {
    this.#driftRepairs.inc({ kind });
  }

  transition(from: State, to: State): void {
    this.#state.set({ state: from }, 0);
    this.#state.set({ state: to }, 1);
    this.#transitions.inc({ from, to });
  }

  unsealSubmitted(): void {
    this.#unseals.inc();
  }

  unsealProgressReset(): void {
    this.#progressResets.inc();
  }

  storeCall(operation: string): void {
    this.#storeCalls.inc({ op: operation });
  }

  vaultRequest(withToken: boolean): void {
    this.#vaultRequests.inc({ token: String(withToken) });
  }

  storeError(operation: string): void {
    this.#storeErrors.inc({ op: operation });
  }

  vaultUp(up: boolean): void {
    this.#vaultUp.set(up ? 1 : 0);
  }

  /**
   * When the keys the loop last read were created (initialized or rotated). Taken from the
   * reconcile's own read, never a read of its own: a rotation by another process shows at the
   * next reconcile, and a scrape costs no store call.
   */
  keysCreated(timestamp: string): void {
    this.#keysCreatedAt = timestamp;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
