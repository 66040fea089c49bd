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

/** Writes one policy; POLICY_REJECTED when the server refuses its text. */
export async function configurePolicy(context: StepContext, name: string, text: string, token: Secret): Promise<void> {
  await context.vault.writePolicy(name, text, token, { signal: context.signal });
  context.log.info({ event: 'policy-written', policy: name }, `policy ${name} written`);
}

export async function configureTokenRole(context: StepContext, token: Secret): Promise<void> {
  await context.vault.writeTokenRole(PROVISIONER_ROLE, provisionerRole(context.config.provisionerTtlMs), token, { signal: context.signal });
  context.log.info({ event: 'token-role-written', role: PROVISIONER_ROLE }, `token role ${PROVISIONER_ROLE} written`);
}
