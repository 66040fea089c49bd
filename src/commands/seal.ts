import { describeError } from '../errors.js';
import type { StepContext } from '../steps/context.js';
import { managementToken } from '../steps/management-token.js';

export interface SealReport {
  intent: 'recorded' | 'ended';
  secret: string;
  /** Whether this command sealed the node at --vault-addr itself (the sidecars seal the others). */
  sealed: boolean | null;
  error: string | null;
}

/**
 * The emergency brake: record the intent first (so no sidecar unseals a node from this moment
 * on, and each seals its own), then seal the node at --vault-addr. Needs the root token to seal.
 */
export async function sealCluster(context: StepContext, by: string): Promise<SealReport> {
  const { records, vault, config, log } = context;
  await records.writeSealIntent({ active: true, by, at: new Date().toISOString(), reason: config.reason ?? 'no reason given' });
  log.warn({ secret: records.names.sealIntent, by }, 'seal intent recorded: every sidecar keeps its node sealed until vault-bootstrap resume');
  try {
    const { token } = await managementToken(context);
    await vault.seal(token, { signal: context.signal });
    return { intent: 'recorded', secret: records.names.sealIntent, sealed: true, error: null };
  } catch (error) {
    const { message } = describeError(error);
    log.error({ error: { message } }, 'could not seal this node directly; its sidecar seals it while the intent is active');
    return { intent: 'recorded', secret: records.names.sealIntent, sealed: false, error: message };
  }
}

/** Ends the seal intent: a new version saying so. The sidecars then unseal as usual. */
export async function resumeCluster(context: StepContext, by: string): Promise<SealReport> {
  const { records, log } = context;
  await records.writeSealIntent({ active: false, by, at: new Date().toISOString(), reason: 'resumed' });
  log.info({ secret: records.names.sealIntent, by }, 'seal intent ended: the sidecars unseal as usual');
  return { intent: 'ended', secret: records.names.sealIntent, sealed: null, error: null };
}

export function formatSealReport(report: SealReport): string {
  if (report.intent === 'ended') return `seal intent ended (${report.secret}): the sidecars unseal their nodes`;
  const node = report.sealed ? 'this node is sealed' : `this node was not sealed directly (${report.error}); its sidecar seals it`;
  return `seal intent recorded (${report.secret}); ${node}; every sidecar keeps its node sealed until vault-bootstrap resume`;
}
