/**
 * Every failure the program reports is a BootstrapError with a stable `code`.
 * Messages never contain a secret value: callers build them from names, paths and
 * status codes only, and SDK or HTTP errors are mapped here before they are logged.
 */

/** Every code a BootstrapError can have: stable, logged as `error.code`, asserted on by tests. */
export const ERROR_CODES = [
  'CONFIG_INVALID',
  'STORE_NOT_FOUND',
  'STORE_ALREADY_EXISTS',
  'STORE_UNAVAILABLE',
  'STORE_DENIED',
  'STORE_CORRUPT',
  'STORE_MISMATCH',
  'VAULT_UNREACHABLE',
  'VAULT_REQUEST_FAILED',
  'POLICY_REJECTED',
  'ABORTED',
  'KEYS_REJECTED',
  'VAULT_NOT_INITIALIZED',
  'VAULT_SEALED',
  'SEAL_FAILING',
  'ROTATION_FAILED',
  'GENERATE_ROOT_FAILED',
  'NO_MANAGEMENT_TOKEN',
  // Snapshots and restore (SPEC §12)
  'SNAPSHOT_NOT_ACTIVE',
  'SNAPSHOT_INVALID',
  'SNAPSHOT_NOT_FOUND',
  'SNAPSHOT_STORE_UNAVAILABLE',
  'SNAPSHOT_STORE_DENIED',
  'RESTORE_REFUSED',
  'RESTORE_INTERRUPTED',
  'RESTORE_DRILL_FAILED',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * Codes that say "try again later" by themselves. A VAULT_REQUEST_FAILED is transient only
 * for a 5xx, a 429, or a 307: a standby's redirect to the active node, which Vault answers while
 * it cannot forward yet (seen for about 30 s after all three pods of the Vault chart restart
 * together, test/e2e/helm-install.test.ts; the client never follows it: one server, verified
 * under its own name). Everything else (denied, rejected input, a bad stored record, keys the
 * server refuses) needs a person, and retrying it at full pace only hides it.
 */
const TRANSIENT_CODES: ReadonlySet<ErrorCode> = new Set([
  'STORE_UNAVAILABLE',
  'SNAPSHOT_STORE_UNAVAILABLE',
  'STORE_MISMATCH',
  'VAULT_UNREACHABLE',
  'ABORTED',
]);

function isTransient(code: ErrorCode, statusCode: number | undefined): boolean {
  if (TRANSIENT_CODES.has(code)) return true;
  return (
    code === 'VAULT_REQUEST_FAILED' &&
    statusCode !== undefined &&
    (statusCode >= 500 || statusCode === 429 || statusCode === 307)
  );
}

export class BootstrapError extends Error {
  override readonly name: string = 'BootstrapError';
  readonly code: ErrorCode;
  readonly statusCode: number | undefined;
  /** True: retry with capped backoff. False: a person must act; say so once and re-check slowly. */
  readonly transient: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; statusCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.statusCode = options.statusCode;
    this.transient = isTransient(code, options.statusCode);
  }

  /** The shape logged for this error: code and message, never the cause object. */
  toJSON(): { name: string; code: ErrorCode; message: string; statusCode?: number } {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      ...(this.statusCode ? { statusCode: this.statusCode } : {}),
    };
  }
}

/** Bad input: a flag, environment variable, file or start-up credential. Exit code 2. */
export class ConfigError extends BootstrapError {
  override readonly name = 'ConfigError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('CONFIG_INVALID', message, options);
  }
}

export class StoreNotFoundError extends BootstrapError {
  override readonly name = 'StoreNotFoundError';
  constructor(secretName: string) {
    super('STORE_NOT_FOUND', `secret ${secretName} does not exist in the store`);
  }
}

export class StoreAlreadyExistsError extends BootstrapError {
  override readonly name = 'StoreAlreadyExistsError';
  constructor(secretName: string) {
    super('STORE_ALREADY_EXISTS', `secret ${secretName} already exists in the store`);
  }
}

export class AbortedError extends BootstrapError {
  override readonly name = 'AbortedError';
  constructor() {
    super('ABORTED', 'stopped by a shutdown signal');
  }
}

export function isAborted(error: unknown): boolean {
  return error instanceof BootstrapError && error.code === 'ABORTED';
}

/**
 * Whether a thrown value should be retried by itself. Only our own transient codes are: an
 * error that is not ours (a TypeError, an SDK's own class) is a bug, not a fault of the world,
 * and retrying it hides it (it ends `--once` with exit 1: exitCodeOf in states.ts).
 */
export function isTransientError(error: unknown): boolean {
  return error instanceof BootstrapError && error.transient;
}

/**
 * A description safe to log for any thrown value: ours verbatim; anything else is an internal
 * error, named by its class and with its stack frames (where it happened), never its message,
 * which may hold what a foreign library put there (a request, a header, a token).
 */
export function describeError(error: unknown): { code: string; message: string; stack?: string } {
  if (error instanceof BootstrapError) return { code: error.code, message: error.message };
  if (error instanceof Error) {
    const stack = stackFramesOf(error);
    return {
      code: 'INTERNAL',
      message: `internal error: ${error.name} (a bug: please report it with the log line that has its stack)`,
      ...(stack === undefined ? {} : { stack }),
    };
  }
  return { code: 'INTERNAL', message: 'internal error: a non-error value was thrown (a bug: please report it)' };
}

/** The `at …` lines of an error's stack, without the header line that repeats its message. */
function stackFramesOf(error: Error): string | undefined {
  if (typeof error.stack !== 'string') return undefined;
  const header = error.message === '' ? error.name : `${error.name}: ${error.message}`;
  const frames = (error.stack.startsWith(header) ? error.stack.slice(header.length) : error.stack)
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .map((line) => line.trim());
  return frames.length === 0 ? undefined : frames.join('\n');
}
