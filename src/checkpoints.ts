import { channel } from 'node:diagnostics_channel';

/** Step boundaries, in the order a fresh Shamir run passes them. */
export type Checkpoint =
  | 'claimed'
  | 'init-sent'
  | 'init-spooled'
  | 'unseal-keys-stored'
  | 'secrets-stored'
  | 'unsealed'
  | 'configured'
  | 'management-token-created'
  | 'management-token-stored'
  | 'token-created'
  | 'token-stored'
  | 'ready'
  // rotate-keys
  | 'rotation-started'
  | 'rotation-keys-received'
  | 'rotation-pending-stored'
  | 'rotation-verified'
  | 'rotation-active-stored'
  // migrate-seal (and the sidecar after a migration made by a person)
  | 'migration-recorded'
  | 'migration-unsealed'
  | 'migration-recorded-recovery'
  // generate-root
  | 'root-generation-started'
  | 'root-generation-stored'
  | 'root-token-generated'
  | 'root-token-stored'
  // seal-key, rotate-seal-key, and the sidecar recording a static seal key re-wrap
  | 'seal-key-created'
  | 'seal-key-files-written'
  | 'seal-key-rotated'
  | 'seal-key-rewrap-recorded'
  // snapshot and restore (SPEC §12)
  | 'snapshot-uploaded'
  | 'snapshot-published'
  | 'restore-recorded'
  | 'restore-throwaway-initialized'
  | 'restore-snapshot-restored'
  | 'restore-unsealed'
  | 'restore-done';

const checkpoints = channel('vault-bootstrap:checkpoint');

/**
 * Marks a step boundary on a diagnostics channel. Nothing subscribes in production; the
 * fault-injection suite preloads a test module (`node --import …`, not shipped in the
 * package or image) that subscribes and kills the process exactly here, so crashes are
 * injected on the production code path without any switch production could flip.
 */
export function checkpoint(name: Checkpoint): void {
  if (checkpoints.hasSubscribers) checkpoints.publish({ name });
}
