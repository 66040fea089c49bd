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
  | 'ORPHANED'
  | 'TIMED_OUT'
  | 'ABORTED'
  | 'SECRETS_UNSTORED'
  | 'VAULT_SEALED'
  | 'KEYS_REJECTED'
  | 'ROTATION_FAILED'
  | 'GENERATE_ROOT_FAILED';

export class BootstrapError extends Error {
  override readonly name: string = 'BootstrapError';
  readonly code: ErrorCode;
  readonly statusCode: number | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; statusCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.statusCode = options.statusCode;
  }

  /** The shape logged for this error: code and message, never the cause object. */
  toJSON(): { name: string; code: ErrorCode; message: string; statusCode?: number } {
    return { name: this.name, code: this.code, message: this.message, ...(this.statusCode ? { statusCode: this.statusCode } : {}) };
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

/** A message safe to log for any thrown value: ours verbatim, anything else by class name only. */
export function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof BootstrapError) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: 'UNEXPECTED', message: `unexpected ${error.name}` };
  return { code: 'UNEXPECTED', message: 'unexpected non-error value thrown' };
}
