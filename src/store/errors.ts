import { BootstrapError } from '../errors.js';

/** What a backend reads off its SDK's error: nothing else of it leaves the backend's file. */
export interface SdkFailure {
  /** Network, throttling, 5xx: retried with backoff. Otherwise denied or misconfigured: a person acts. */
  transient: boolean;
  /** A short, fixed vocabulary: an error name, a gRPC status name or an errno, never the SDK's message. */
  reason: string;
  statusCode?: number;
}

/**
 * A key or token about to be written into a secret that exists but holds no version: someone
 * with create rights under the prefix made it ahead of us (a version of ours is always written
 * when we create one), so its access policy or encryption key may be theirs.
 */
export function foreignSecretError(store: string, name: string): BootstrapError {
  return new BootstrapError(
    'STORE_DENIED',
    `${store} addVersion ${name}: the secret exists but holds no version: someone else created it, and a key or token is never written into a secret vault-bootstrap did not create. Delete it, and let only this cluster's identity create secrets under the prefix`,
  );
}

/**
 * The one translation every backend ends in: STORE_UNAVAILABLE or STORE_DENIED, naming the
 * store, the operation and the secret. Errors already ours (not found, already exists) pass as they are.
 */
export function storeError(
  store: string,
  operation: string,
  name: string,
  error: unknown,
  classify: (error: unknown) => SdkFailure,
): BootstrapError {
  if (error instanceof BootstrapError) return error;
  const failure = classify(error);
  return new BootstrapError(
    failure.transient ? 'STORE_UNAVAILABLE' : 'STORE_DENIED',
    `${store} ${operation} ${name}: ${failure.reason}`,
    failure.statusCode === undefined ? {} : { statusCode: failure.statusCode },
  );
}
