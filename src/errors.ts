/**
 * Every failure the program reports is a BootstrapError with a stable `code`.
 * Messages never contain a secret value: callers build them from names, paths and
 * status codes only, and SDK or HTTP errors are mapped here before they are logged.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'STORE_NOT_FOUND'
  | 'STORE_ALREADY_EXISTS'
  | 'STORE_UNAVAILABLE'
  | 'STORE_DENIED'
  | 'STORE_CORRUPT'
  | 'STORE_MISMATCH'
  | 'VAULT_UNREACHABLE'
  | 'VAULT_REQUEST_FAILED'
  | 'POLICY_REJECTED'
  | 'ABORTED'
  | 'KEYS_REJECTED'
  | 'VAULT_SEALED'
  | 'ROTATION_FAILED'
  | 'GENERATE_ROOT_FAILED'
  | 'NO_MANAGEMENT_TOKEN'
  // Snapshots and restore (SPEC §12)
  | 'SNAPSHOT_NOT_ACTIVE'
  | 'SNAPSHOT_INVALID'
  | 'SNAPSHOT_NOT_FOUND'
  | 'SNAPSHOT_STORE_UNAVAILABLE'
  | 'SNAPSHOT_STORE_DENIED'
  | 'RESTORE_REFUSED'
  | 'RESTORE_INTERRUPTED'
  | 'INTERNAL';

/**
 * Codes that say "try again later" by themselves. A VAULT_REQUEST_FAILED is transient only
 * for a 5xx or a 429; everything else (denied, rejected input, a bad stored record, keys the
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
  return code === 'VAULT_REQUEST_FAILED' && statusCode !== undefined && (statusCode >= 500 || statusCode === 429);
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

/** Whether a thrown value should be retried by itself; unknown errors are (a bug is not a person's task). */
export function isTransientError(error: unknown): boolean {
  return !(error instanceof BootstrapError) || error.transient;
}

/** A message safe to log for any thrown value: ours verbatim, anything else by class name only. */
export function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof BootstrapError) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: 'UNEXPECTED', message: `unexpected ${error.name}` };
  return { code: 'UNEXPECTED', message: 'unexpected non-error value thrown' };
}
