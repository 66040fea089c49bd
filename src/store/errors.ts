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
 * The one translation every backend ends in: STORE_UNAVAILABLE or STORE_DENIED, naming the
 * store, the operation and the secret. Errors already ours (not found, already exists) pass as they are.
 */
export function storeError(store: string, operation: string, name: string, error: unknown, classify: (error: unknown) => SdkFailure): BootstrapError {
  if (error instanceof BootstrapError) return error;
  const failure = classify(error);
  return new BootstrapError(failure.transient ? 'STORE_UNAVAILABLE' : 'STORE_DENIED', `${store} ${operation} ${name}: ${failure.reason}`, failure.statusCode === undefined ? {} : { statusCode: failure.statusCode });
}
