import type { Secret } from '../secret.js';
import type { AuditDevice, TokenRole } from '../vault/api.js';
import type { StepContext } from './context.js';
import { together } from '../wait.js';

export const PROVISIONER_ROLE = 'provisioner';
export const PROVISIONER_POLICY = 'provisioner';
/** The policy of the sidecar's own token (policies/vault-bootstrap.hcl). */
export const MANAGEMENT_POLICY = 'vault-bootstrap';
/** The token role the sidecar's own token is issued through, each period anew (steps/management-token.ts). */
export const MANAGEMENT_ROLE = 'vault-bootstrap-management';

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

/**
 * The token role of the sidecar's own token: orphan, the management policy only, not renewable
 * and never older than --provisioner-ttl (an explicit max TTL: no renewal by anyone stretches
 * it). The sidecar issues a successor in the last third and revokes the old token, so a copy of
 * it that nobody uses stops working within one period.
 */
function managementRole(provisionerTtlMs: number): Record<string, unknown> {
  return {
    allowed_policies: [MANAGEMENT_POLICY],
    orphan: true,
    renewable: false,
    token_type: 'service',
    token_explicit_max_ttl: Math.round(provisionerTtlMs / 1000),
  };
}

export interface ConfigureChanges {
  policiesWritten: string[];
  roleWritten: boolean;
}

/** Whether a token role as the server holds it (undefined: absent) differs from the desired one. */
function roleDiffers(role: TokenRole | undefined, desired: Record<string, unknown>): boolean {
  const held = role as unknown as Record<string, unknown> | undefined;
  return (
    held === undefined ||
    JSON.stringify(held.allowed_policies) !== JSON.stringify(desired.allowed_policies) ||
    held.orphan !== desired.orphan ||
    held.renewable !== desired.renewable ||
    held.token_type !== desired.token_type ||
    Number(held.token_explicit_max_ttl) !== desired.token_explicit_max_ttl
  );
}

/** What configuring would change, read-only: policies whose text differs, and the provisioner token role. */
export async function planConfiguration(
  context: StepContext,
  policies: ReadonlyMap<string, string>,
  token: Secret,
): Promise<ConfigureChanges> {
  const { vault, signal, config } = context;
  // Every read at once (one round trip instead of one per policy).
  const names = [...policies.keys()];
  const [texts, role] = await together([
    together(names.map((name) => vault.readPolicy(name, token, { signal }))),
    vault.readTokenRole(PROVISIONER_ROLE, token, { signal }),
  ]);
  const policiesWritten = names.filter((name, index) => texts[index] !== policies.get(name));
  return { policiesWritten, roleWritten: roleDiffers(role, provisionerRole(config.provisionerTtlMs)) };
}

/** Writes one policy; POLICY_REJECTED when the server refuses its text. */
export async function configurePolicy(context: StepContext, name: string, text: string, token: Secret): Promise<void> {
  await context.vault.writePolicy(name, text, token, { signal: context.signal });
  context.log.info({ event: 'policy-written', policy: name }, `policy ${name} written`);
}

export async function configureTokenRole(context: StepContext, token: Secret): Promise<void> {
  await context.vault.writeTokenRole(PROVISIONER_ROLE, provisionerRole(context.config.provisionerTtlMs), token, {
    signal: context.signal,
  });
  context.log.info({ event: 'token-role-written', role: PROVISIONER_ROLE }, `token role ${PROVISIONER_ROLE} written`);
}

/**
 * Writes the management token's role where it differs, with the token about to issue through it.
 * Checked only then, not at every reconcile: nothing but the sidecar's own token (and an
 * administrator) may create tokens through it, so a change matters only to the next issue.
 */
export async function ensureManagementRole(context: StepContext, token: Secret): Promise<void> {
  const { vault, signal, config, log } = context;
  const desired = managementRole(config.provisionerTtlMs);
  if (!roleDiffers(await vault.readTokenRole(MANAGEMENT_ROLE, token, { signal }), desired)) return;
  await vault.writeTokenRole(MANAGEMENT_ROLE, desired, token, { signal });
  log.info({ event: 'token-role-written', role: MANAGEMENT_ROLE }, `token role ${MANAGEMENT_ROLE} written`);
}

/** Where the sidecar keeps its audit device on HashiCorp Vault (OpenBao declares its own in the config file). */
const AUDIT_DEVICE_PATH = 'vault-bootstrap/';

/** The file audit device --audit-file asks for: `stdout` by default, so the platform's log pipeline keeps it. */
function desiredAuditDevice(auditFile: string): AuditDevice {
  return { type: 'file', options: { file_path: auditFile } };
}

/** Whether the audit device is missing or differs (type or file path); false with --audit-file off. */
export async function auditDeviceDiffers(context: StepContext, token: Secret): Promise<boolean> {
  const { auditFile } = context.config;
  if (auditFile === undefined) return false;
  const enabled = (await context.vault.readAuditDevices(token, { signal: context.signal })).get(AUDIT_DEVICE_PATH);
  const desired = desiredAuditDevice(auditFile);
  return (
    enabled === undefined || enabled.type !== desired.type || enabled.options.file_path !== desired.options.file_path
  );
}

/** Enables the audit device, replacing one at the same path that differs (a device's options cannot be tuned). */
export async function configureAuditDevice(context: StepContext, token: Secret): Promise<void> {
  const { auditFile } = context.config;
  if (auditFile === undefined) return;
  const { vault, signal, log } = context;
  const path = AUDIT_DEVICE_PATH.slice(0, -1);
  if ((await vault.readAuditDevices(token, { signal })).has(AUDIT_DEVICE_PATH))
    await vault.disableAuditDevice(path, token, { signal });
  await vault.enableAuditDevice(path, desiredAuditDevice(auditFile), token, { signal });
  log.info({ auditDevice: AUDIT_DEVICE_PATH, file: auditFile }, 'audit device enabled');
}
