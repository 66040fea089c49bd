import type { Secret } from '../secret.js';
import type { StepContext } from './context.js';

export const PROVISIONER_ROLE = 'provisioner';
export const PROVISIONER_POLICY = 'provisioner';

/** The token role provisioner tokens are created through (SPEC §6): orphan, provisioner policy only. */
function provisionerRole(provisionerTtlMs: number): Record<string, unknown> {
  return {
    allowed_policies: [PROVISIONER_POLICY],
    orphan: true,
    renewable: true,
    token_type: 'service',
    token_explicit_max_ttl: Math.round(provisionerTtlMs / 1000),
  };
}

export interface ConfigureChanges {
  policiesWritten: string[];
  roleWritten: boolean;
}

/** What configuring would change, read-only: policies whose text differs, and the token role. */
export async function planConfiguration(context: StepContext, policies: ReadonlyMap<string, string>, token: Secret): Promise<ConfigureChanges> {
  const { vault, signal, config } = context;
  const policiesWritten: string[] = [];
  for (const [name, text] of policies) {
    if ((await vault.readPolicy(name, token, { signal })) !== text) policiesWritten.push(name);
  }
  const role = await vault.readTokenRole(PROVISIONER_ROLE, token, { signal });
  const desired = provisionerRole(config.provisionerTtlMs);
  const roleWritten =
    role === undefined ||
    JSON.stringify(role.allowed_policies) !== JSON.stringify(desired.allowed_policies) ||
    role.orphan !== desired.orphan ||
    role.renewable !== desired.renewable ||
    role.token_type !== desired.token_type ||
    Number((role as unknown as Record<string, unknown>).token_explicit_max_ttl) !== desired.token_explicit_max_ttl;
  return { policiesWritten, roleWritten };
}

/** Writes each policy only where the server's text differs, then the provisioner token role if it differs. */
export async function configure(context: StepContext, policies: ReadonlyMap<string, string>, token: Secret): Promise<ConfigureChanges> {
  const { vault, signal, log, config } = context;
  const changes = await planConfiguration(context, policies, token);
  for (const name of changes.policiesWritten) {
    await vault.writePolicy(name, policies.get(name)!, token, { signal });
    log.info({ policy: name }, `policy ${name} written`);
  }
  if (changes.roleWritten) {
    await vault.writeTokenRole(PROVISIONER_ROLE, provisionerRole(config.provisionerTtlMs), token, { signal });
    log.info({ role: PROVISIONER_ROLE }, `token role ${PROVISIONER_ROLE} written`);
  }
  return changes;
}
