import type { Secret } from '../secret.js';
import type { StepContext } from '../steps/context.js';
import { managementToken } from '../steps/management-token.js';

/** Policies that make whoever holds them an administrator, CI, or the sidecar. */
export const PRIVILEGED_POLICIES: readonly string[] = ['root', 'admin', 'provisioner', 'vault-bootstrap'];

/** Where each auth method keeps the entries a login turns into a token, and their policy fields. */
const ROLE_COLLECTIONS: Readonly<Record<string, string>> = {
  approle: 'role',
  kubernetes: 'role',
  jwt: 'role',
  oidc: 'role',
  userpass: 'users',
  cert: 'certs',
};

/** The self-init login (k8s/overlays/self-init): the one role expected to grant vault-bootstrap. */
const OWN_LOGIN_ROLE = 'auth/vault-bootstrap/role/vault-bootstrap';

export interface PrivilegedRole {
  /** auth/{mount}/{role|users|certs}/{name} */
  path: string;
  policies: string[];
}

/**
 * Every auth role or user outside the token method that hands out one of PRIVILEGED_POLICIES
 * at login: the CI token can create such a role in a few requests (README, "Reachable in several
 * steps"), so status names each one. One pass over sys/auth and the roles of the methods
 * above, with the management token; undefined when no token works or the server refuses
 * (nothing is concluded then).
 */
export async function privilegedAuthRoles(context: StepContext): Promise<PrivilegedRole[] | undefined> {
  let token: Secret;
  try {
    ({ token } = await managementToken(context));
  } catch {
    return undefined;
  }
  const { client } = context.vault;
  const mounts = await client.call<Record<string, unknown>>('GET', 'sys/auth', { token, signal: context.signal });
  if (mounts.status !== 200) return undefined;
  const table = (
    typeof mounts.body.data === 'object' && mounts.body.data !== null ? mounts.body.data : mounts.body
  ) as Record<string, { type?: unknown }>;
  const found: PrivilegedRole[] = [];
  for (const [mountPath, mount] of Object.entries(table)) {
    const collection = ROLE_COLLECTIONS[String(mount?.type)];
    if (collection === undefined || !mountPath.endsWith('/')) continue;
    const base = `auth/${mountPath}${collection}`;
    const listed = await client.call<{ data?: { keys?: unknown } }>('GET', base, {
      token,
      query: { list: 'true' },
      signal: context.signal,
    });
    const names =
      listed.status === 200 && Array.isArray(listed.body.data?.keys)
        ? (listed.body.data.keys as unknown[]).map(String)
        : [];
    for (const name of names) {
      const path = `${base}/${name}`;
      const read = await client.call<{ data?: { token_policies?: unknown; policies?: unknown } }>('GET', path, {
        token,
        signal: context.signal,
      });
      if (read.status !== 200) continue;
      const policies = [read.body.data?.token_policies, read.body.data?.policies].flatMap((value) =>
        Array.isArray(value) ? value.map(String) : [],
      );
      const privileged = [...new Set(policies.filter((policy) => PRIVILEGED_POLICIES.includes(policy)))];
      if (privileged.length === 0) continue;
      if (path === OWN_LOGIN_ROLE && privileged.every((policy) => policy === 'vault-bootstrap')) continue;
      found.push({ path, policies: privileged });
    }
  }
  return found;
}
