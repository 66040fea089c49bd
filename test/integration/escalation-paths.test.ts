// The second security review (issue 25): paths from the CI (provisioner) token that go further
// than one request, each made for real against the server with the shipped policies and refused.
// escalation.test.ts holds the one-request escalations.
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { capturedOutput, runCli } from '../../harness/cli.js';
import { freePort } from '../../harness/child-server.js';
import {
  describeEachServer,
  missingPodNamespace,
  serverRequest,
  TestServer,
  type ServerKind,
  type ServerOptions,
} from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

const ANY_POWER = 'path "*" {\n  capabilities = ["create", "read", "update", "delete", "list", "sudo"]\n}\n';
const SCOPED_PROVISIONER = fileURLToPath(new URL('../../policies/scoped/provisioner.hcl', import.meta.url));
const PROTECTED_POLICIES = ['admin', 'provisioner', 'default', 'vault-bootstrap'];

/**
 * The white space Go's unicode.IsSpace knows: the ASCII white space, U+0085, U+00A0 and the
 * Unicode space separators. Of these, both servers fold only the ASCII space at either end of a
 * policy name (the test below shows it); the rest are refused to CI all the same.
 */
const GO_SPACES = [
  '\t',
  '\n',
  '\v',
  '\f',
  '\r',
  ' ',
  '\u0085',
  '\u00a0',
  '\u1680',
  ...Array.from({ length: 11 }, (_, index) => String.fromCharCode(0x2000 + index)),
  '\u2028',
  '\u2029',
  '\u202f',
  '\u205f',
  '\u3000',
];

/**
 * The only code points whose simple lower case (Go's unicode.ToLower, which Vault applies to a
 * policy name) is an ASCII letter besides the ASCII capitals: U+0130 (İ) → i, U+212A (Kelvin) → k.
 */
const FOLDS_TO_ASCII: Record<string, string> = { i: '\u0130', k: '\u212a' };

/**
 * Every spelling of `name` the servers fold into it, changed at one place: a capital letter,
 * U+0130 or U+212A where they lower-case to the letter, an ASCII space at either end.
 */
function foldingSpellings(name: string): string[] {
  const spellings: string[] = [];
  for (let index = 0; index < name.length; index += 1) {
    const letter = name[index]!;
    if (letter.toUpperCase() !== letter)
      spellings.push(name.slice(0, index) + letter.toUpperCase() + name.slice(index + 1));
    const folding = FOLDS_TO_ASCII[letter];
    if (folding) spellings.push(name.slice(0, index) + folding + name.slice(index + 1));
  }
  spellings.push(` ${name}`, `${name} `);
  return spellings;
}

/** The name with any other white space at either end: not folded by either server, refused to CI anyway. */
function whiteSpaceSpellings(name: string): string[] {
  return GO_SPACES.filter((space) => space !== ' ').flatMap((space) => [space + name, name + space]);
}

interface Setup {
  server: TestServer;
  store: FileStore;
  storeDirectory: string;
}

async function setUp(
  kind: ServerKind,
  servers: TestServer[],
  options: Partial<ServerOptions> = {},
  ...extra: string[]
): Promise<Setup> {
  const server = await TestServer.start({ kind, audit: true, ...options });
  servers.push(server);
  const storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-escalation-paths-')), 'store');
  const result = await runCli([
    'run',
    '--once',
    '--store',
    'file',
    '--file-dir',
    storeDirectory,
    '--vault-addr',
    server.address,
    '--audit-file',
    server.auditLog,
    ...extra,
  ]);
  expect(result.code, result.stdout + result.stderr).toBe(0);
  return { server, store: new FileStore(storeDirectory), storeDirectory };
}

const latest = async (store: FileStore, name: string) => JSON.parse(await store.readLatest(name));

/** A stand-in for an attacker's "Kubernetes API": an HTTP listener on loopback that records every Authorization header it is sent. */
async function bearerListener(): Promise<{ url: string; bearers: string[]; close(): Promise<void> }> {
  const bearers: string[] = [];
  const listener: Server = createServer((request, response) => {
    if (request.headers.authorization) bearers.push(request.headers.authorization);
    request.resume();
    response.writeHead(500).end();
  });
  const port = await freePort();
  await new Promise<void>((resolve) => listener.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    bearers,
    close: () => new Promise<void>((resolve) => listener.close(() => resolve())),
  };
}

/**
 * A JWT nobody signed, with a service account's claims (Vault's plugin reads them before the
 * review): enough for the Kubernetes auth method to call its TokenReview host.
 */
const UNSIGNED_JWT = [
  { alg: 'RS256' },
  {
    iss: 'kubernetes/serviceaccount',
    sub: 'system:serviceaccount:x:y',
    'kubernetes.io/serviceaccount/namespace': 'x',
    'kubernetes.io/serviceaccount/service-account.name': 'y',
    'kubernetes.io/serviceaccount/service-account.uid': '00000000-0000-0000-0000-000000000001',
  },
]
  .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
  .concat('c2ln')
  .join('.');

/** Tune bodies that would make the audit device write keys and tokens in clear. */
const BLINDING: Array<Record<string, unknown>> = [
  { audit_non_hmac_request_keys: ['key', 'jwt', 'secret_id', 'token'] },
  {
    audit_non_hmac_response_keys: [
      'keys',
      'keys_base64',
      'recovery_keys',
      'recovery_keys_base64',
      'client_token',
      'root_token',
    ],
  },
  { AUDIT_NON_HMAC_RESPONSE_KEYS: ['keys'] },
  { passthrough_request_headers: ['Authorization', 'X-Vault-Token'] },
  { allowed_response_headers: ['X-Vault-Token'] },
];

describeEachServer('the CI token reaches no key in several steps', (kind) => {
  const servers: TestServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });

  const podNamespace = missingPodNamespace();
  if (podNamespace) console.warn(`the service-account-token test [${kind}]: skipped: ${podNamespace}`);
  it.skipIf(podNamespace !== undefined)(
    "CI cannot point a Kubernetes auth method at its own host: the server's service account token never leaves (an operator's config shows it would)",
    async () => {
      const serviceAccountToken = `pod-token-${randomUUID()}`;
      const { server, store } = await setUp(kind, servers, { serviceAccountToken });
      const ci = (await latest(store, 'vault-provisioner-token')).token as string;
      const attacker = await bearerListener();
      try {
        // CI may enable the method and write its roles, never its host.
        expect((await serverRequest(server, 'POST', 'sys/auth/tenant-k8s', ci, { type: 'kubernetes' })).status).toBe(
          204,
        );
        expect(
          (await serverRequest(server, 'POST', 'auth/tenant-k8s/config', ci, { kubernetes_host: attacker.url })).status,
        ).toBe(403);
        expect(
          (await serverRequest(server, 'POST', 'auth/tenant-k8s/config', ci, { KUBERNETES_HOST: attacker.url })).status,
        ).toBe(403);
        expect(
          (
            await serverRequest(server, 'POST', 'auth/tenant-k8s/config', ci, {
              kubernetes_host: attacker.url,
              disable_local_ca_jwt: false,
            })
          ).status,
        ).toBe(403);
        // Nested mount paths and the sys/mounts/auth alias too.
        expect((await serverRequest(server, 'POST', 'sys/auth/tenant/nested', ci, { type: 'kubernetes' })).status).toBe(
          204,
        );
        expect(
          (await serverRequest(server, 'POST', 'auth/tenant/nested/config', ci, { kubernetes_host: attacker.url }))
            .status,
        ).toBe(403);
        expect(
          (await serverRequest(server, 'POST', 'sys/mounts/auth/tenant-k8s-2', ci, { type: 'kubernetes' })).status,
        ).toBe(403);
        const role = {
          bound_service_account_names: ['*'],
          bound_service_account_namespaces: ['*'],
          token_policies: ['default'],
        };
        expect((await serverRequest(server, 'POST', 'auth/tenant-k8s/role/anyone', ci, role)).status).toBe(204);
        expect(
          (
            await serverRequest(server, 'POST', 'auth/tenant-k8s/login', undefined, {
              role: 'anyone',
              jwt: UNSIGNED_JWT,
            })
          ).status,
        ).toBeGreaterThanOrEqual(400);
        expect(attacker.bearers).toEqual([]);

        // The same configuration written by the operator (the root token): one login, and the
        // server's own token arrives at whatever host the config names.
        const root = (await latest(store, 'vault-root-token')).token as string;
        expect(
          (await serverRequest(server, 'POST', 'auth/tenant-k8s/config', root, { kubernetes_host: attacker.url }))
            .status,
        ).toBe(204);
        await serverRequest(server, 'POST', 'auth/tenant-k8s/login', undefined, { role: 'anyone', jwt: UNSIGNED_JWT });
        expect(attacker.bearers).toContain(`Bearer ${serviceAccountToken}`);
      } finally {
        await attacker.close();
      }
    },
  );

  it('CI cannot blind the audit log on any mount it reaches; a rotate-keys after the attempts leaves no key in the audit output', async () => {
    const { server, store, storeDirectory } = await setUp(kind, servers);
    const ci = (await latest(store, 'vault-provisioner-token')).token as string;
    expect((await serverRequest(server, 'POST', 'sys/auth/tenant-login', ci, { type: 'approle' })).status).toBe(204);
    expect((await serverRequest(server, 'POST', 'sys/mounts/tenant-kv', ci, { type: 'kv' })).status).toBe(204);
    const tunes = [
      'sys/mounts/sys/tune',
      'sys/mounts/cubbyhole/tune',
      'sys/mounts/identity/tune',
      'sys/mounts/secret/tune',
      'sys/mounts/tenant-kv/tune',
      'sys/auth/tenant-login/tune',
      'sys/mounts/auth/tenant-login/tune',
      'sys/auth/token/tune',
    ];
    const refused: string[] = [];
    for (const path of tunes) {
      for (const body of BLINDING) {
        const answer = await serverRequest(server, 'POST', path, ci, body);
        expect(answer.status, `POST ${path} ${JSON.stringify(body)}`).toBe(403);
        refused.push(`${answer.status} POST ${path} ${Object.keys(body)[0]}`);
      }
    }
    // The sys, cubbyhole and identity mounts are refused outright; a tenant's own mount may still be tuned otherwise.
    for (const path of ['sys/mounts/sys/tune', 'sys/mounts/cubbyhole/tune', 'sys/mounts/identity/tune']) {
      expect((await serverRequest(server, 'POST', path, ci, { description: 'x' })).status, path).toBe(403);
    }
    expect((await serverRequest(server, 'POST', 'sys/mounts/tenant-kv/tune', ci, { max_lease_ttl: '2h' })).status).toBe(
      204,
    );
    expect(
      (await serverRequest(server, 'POST', 'sys/auth/tenant-login/tune', ci, { description: 'tenant login' })).status,
    ).toBe(204);
    console.log(`[${kind}] the CI token's tuning attempts: ${refused.length} refused`);

    const rotation = await runCli([
      'rotate-keys',
      '--store',
      'file',
      '--file-dir',
      storeDirectory,
      '--vault-addr',
      server.address,
    ]);
    expect(rotation.code, rotation.stdout + rotation.stderr).toBe(0);
    expect((await store.readAllVersions('vault-unseal-keys')).length).toBeGreaterThan(1);
    const audit = await readFile(server.auditLog, 'utf8');
    // OpenBao audits its authenticated sys/rotate; Vault's sys/rekey takes no token.
    if (kind === 'openbao') expect(audit).toContain('sys/rotate/root');
    expectNoSecretIn([audit], await secretValuesIn(store));
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  });

  it("every spelling Vault would fold into a protected policy's name is refused to CI, and the server's folding is the family the policy denies", async () => {
    const { server, store } = await setUp(kind, servers);
    const ci = (await latest(store, 'vault-provisioner-token')).token as string;
    const root = (await latest(store, 'vault-root-token')).token as string;

    // What the server does with a name: the operator writes spellings of a scratch name "kilos"
    // and sees which ones land on it. Vault folds the whole family; nothing outside it folds.
    const folds: string[] = [];
    const scratch = 'kilos';
    const family = foldingSpellings(scratch);
    // Look-alikes whose lower case is not ASCII: long s, small capital L, fullwidth k, dotless i,
    // i with a combining dot, zero-width space, the Angstrom sign; and every other white space.
    const outsideFamily = [
      'kilo\u017f',
      'ki\u029flos',
      '\uff4bilos',
      'k\u0131los',
      'ki\u0307los',
      '\u200bkilos',
      'kilos\u200b',
      '\u212bkilos',
      '\uff2bilos',
      ...whiteSpaceSpellings(scratch),
    ];
    for (const spelling of [...family, ...outsideFamily]) {
      const answer = await serverRequest(server, 'PUT', `sys/policies/acl/${encodeURIComponent(spelling)}`, root, {
        policy: ANY_POWER.replace('"*"', '"scratch/*"'),
      });
      const landed = (await serverRequest(server, 'GET', `sys/policies/acl/${scratch}`, root)).status === 200;
      if (landed) {
        folds.push(spelling);
        await serverRequest(server, 'DELETE', `sys/policies/acl/${scratch}`, root);
      }
      if (answer.status === 204 && !landed)
        await serverRequest(server, 'DELETE', `sys/policies/acl/${encodeURIComponent(spelling)}`, root);
    }
    const named = (spellings: string[]) => spellings.map((spelling) => JSON.stringify(spelling)).join(' ');
    console.log(
      `[${kind}] spellings that fold into "${scratch}": ${folds.length} of ${family.length} in the family (${named(folds)}); outside it: ${named(folds.filter((spelling) => !family.includes(spelling)))}`,
    );
    // Exactly the family: each spelling in it folds, nothing outside it does.
    expect(named(folds)).toBe(named(family));

    // CI sends every spelling of the four protected names: all refused, nothing changed.
    const before = await Promise.all(
      PROTECTED_POLICIES.map(
        async (name) => (await serverRequest(server, 'GET', `sys/policies/acl/${name}`, root)).body.data?.policy,
      ),
    );
    let sent = 0;
    for (const name of PROTECTED_POLICIES) {
      for (const spelling of [name, ...foldingSpellings(name), ...whiteSpaceSpellings(name)]) {
        const answer = await serverRequest(server, 'PUT', `sys/policies/acl/${encodeURIComponent(spelling)}`, ci, {
          policy: ANY_POWER,
        });
        // 403 from the policy; OpenBao answers 400 to a name with a control character before any ACL.
        expect([400, 403], `PUT sys/policies/acl/${JSON.stringify(spelling)}: ${answer.status}`).toContain(
          answer.status,
        );
        sent += 1;
      }
    }
    const after = await Promise.all(
      PROTECTED_POLICIES.map(
        async (name) => (await serverRequest(server, 'GET', `sys/policies/acl/${name}`, root)).body.data?.policy,
      ),
    );
    expect(after).toEqual(before);
    console.log(`[${kind}] ${sent} spellings of the protected policies refused to CI`);
    // Tenant policies still work.
    expect(
      (
        await serverRequest(server, 'PUT', 'sys/policies/acl/tenant-a', ci, {
          policy: 'path "secret/data/tenant-a/*" {\n  capabilities = ["read"]\n}\n',
        })
      ).status,
    ).toBe(204);
  });

  it("CI can neither rebind nor remove the self-init sidecar's login mount (auth/vault-bootstrap) nor a break-glass mount named like it", async () => {
    const { server, store } = await setUp(kind, servers);
    const ci = (await latest(store, 'vault-provisioner-token')).token as string;
    const root = (await latest(store, 'vault-root-token')).token as string;
    // The mount as the self-init overlay declares it (here AppRole: no Kubernetes API in this test).
    expect((await serverRequest(server, 'POST', 'sys/auth/vault-bootstrap', root, { type: 'approle' })).status).toBe(
      204,
    );
    expect(
      (
        await serverRequest(server, 'POST', 'auth/vault-bootstrap/role/vault-bootstrap', root, {
          token_policies: ['vault-bootstrap'],
          token_bound_cidrs: ['127.0.0.1/32'],
        })
      ).status,
    ).toBe(204);
    const attempts: Array<[string, string, unknown]> = [
      [
        'POST',
        'auth/vault-bootstrap/role/vault-bootstrap',
        { token_policies: ['vault-bootstrap'], token_bound_cidrs: [] },
      ],
      ['POST', 'auth/vault-bootstrap/role/vault-bootstrap/secret-id', {}],
      ['GET', 'auth/vault-bootstrap/role/vault-bootstrap/role-id', undefined],
      ['DELETE', 'auth/vault-bootstrap/role/vault-bootstrap', undefined],
      ['DELETE', 'sys/auth/vault-bootstrap', undefined],
      ['POST', 'sys/auth/vault-bootstrap/tune', { audit_non_hmac_request_keys: ['secret_id'] }],
      ['POST', 'sys/auth/vault-bootstrap/tune', { token_type: 'batch' }],
      ['POST', 'sys/mounts/auth/vault-bootstrap/tune', { description: 'x' }],
      // An operators' break-glass login beside it, named like it.
      ['POST', 'sys/auth/vault-bootstrap-operators', { type: 'userpass' }],
      ['DELETE', 'sys/auth/vault-bootstrap-operators', undefined],
      ['POST', 'auth/vault-bootstrap-operators/users/admin', { password: 'x', token_policies: ['admin'] }],
    ];
    for (const [method, path, body] of attempts) {
      expect((await serverRequest(server, method, path, ci, body)).status, `${method} ${path}`).toBe(403);
    }
    expect(
      (await serverRequest(server, 'GET', 'auth/vault-bootstrap/role/vault-bootstrap', root)).body.data
        .token_bound_cidrs,
    ).toEqual(['127.0.0.1']);
  });

  it('the management token reaches what the sidecar sends and no more: no other audit device, no rotation backup, no life beyond its period', async () => {
    const { server, store } = await setUp(kind, servers);
    const management = (await latest(store, 'vault-management-token')).token as string;
    const attempts: Array<[string, string, unknown]> = [
      // The harness's own device stands for a SIEM's: neither removed nor joined by a raw one.
      ['DELETE', 'sys/audit/test', undefined],
      [
        'PUT',
        'sys/audit/siem',
        { type: 'file', options: { file_path: join(server.directory, 'raw.log'), log_raw: true } },
      ],
      // The backup of PGP-encrypted keys a rotation may keep.
      ['GET', kind === 'openbao' ? 'sys/rotate/root/backup' : 'sys/rekey/backup', undefined],
      ['DELETE', kind === 'openbao' ? 'sys/rotate/root/backup' : 'sys/rekey/backup', undefined],
      ['GET', kind === 'openbao' ? 'sys/rotate/recovery/backup' : 'sys/rekey-recovery-key/backup', undefined],
    ];
    for (const [method, path, body] of attempts) {
      expect((await serverRequest(server, method, path, management, body)).status, `${method} ${path}`).toBe(403);
    }

    // Finding 6: a copy of the token cannot outlive its period. It is issued through the role
    // vault-bootstrap-management (explicit max TTL = --provisioner-ttl, not renewable); renewing it
    // is refused, a token outside the role is refused, the role hands out no other policy, and a
    // successor minted through it carries the same bound, whatever the request asks.
    const bound = (await serverRequest(server, 'GET', 'auth/token/lookup-self', management)).body.data;
    expect(bound).toMatchObject({ renewable: false, path: 'auth/token/create/vault-bootstrap-management' });
    expect(bound.creation_ttl).toBeGreaterThan(0);
    expect(bound.creation_ttl).toBeLessThanOrEqual(720 * 3600);
    expect(
      (await serverRequest(server, 'POST', 'auth/token/renew-self', management, { increment: '8760h' })).status,
    ).toBe(400);
    expect((await serverRequest(server, 'GET', 'auth/token/lookup-self', management)).body.data.expire_time).toBe(
      bound.expire_time,
    );
    for (const body of [
      { policies: ['vault-bootstrap'], no_parent: true, period: '8760h' },
      { policies: ['vault-bootstrap'], explicit_max_ttl: '8760h' },
    ])
      expect((await serverRequest(server, 'POST', 'auth/token/create', management, body)).status).toBe(403);
    expect(
      (await serverRequest(server, 'POST', 'auth/token/create-orphan', management, { policies: ['vault-bootstrap'] }))
        .status,
    ).toBe(403);
    const mint = (body: Record<string, unknown>) =>
      serverRequest(server, 'POST', 'auth/token/create/vault-bootstrap-management', management, body);
    // Another policy, or a periodic token (which renewals would keep alive), through the role: refused.
    expect((await mint({ policies: ['admin'] })).status).toBe(400);
    expect((await mint({ period: '8760h' })).status).toBe(400);
    // A successor asked for with a long life gets the role's bound, not renewable.
    const minted = await mint({ ttl: '8760h', explicit_max_ttl: '8760h' });
    expect(minted.status).toBe(200);
    expect(minted.body.auth).toMatchObject({ renewable: false, token_policies: ['default', 'vault-bootstrap'] });
    expect(minted.body.auth.lease_duration).toBeLessThanOrEqual(bound.creation_ttl);
    // Nor can it hand itself a role of its own making, or the provisioner one with other policies:
    // token roles other than its two are refused (it rewrites those two: see README, "Policies").
    expect(
      (await serverRequest(server, 'POST', 'auth/token/roles/backdoor', management, { allowed_policies: ['admin'] }))
        .status,
    ).toBe(403);
  });

  it('what CI can still do in several steps (a role that hands out admin) status names, one problem per role', async () => {
    const { server, store, storeDirectory } = await setUp(kind, servers);
    const ci = (await latest(store, 'vault-provisioner-token')).token as string;
    const status = async () => {
      const result = await runCli([
        'status',
        '--json',
        '--store',
        'file',
        '--file-dir',
        storeDirectory,
        '--vault-addr',
        server.address,
      ]);
      return JSON.parse(result.stdout) as { privilegedAuthRoles: Array<{ path: string; policies: string[] }> | null };
    };
    expect((await status()).privilegedAuthRoles).toEqual([]);
    // The several steps: an AppRole and a userpass method, a role and a user with admin, provisioner, the sidecar's policy.
    expect((await serverRequest(server, 'POST', 'sys/auth/tenant-approle', ci, { type: 'approle' })).status).toBe(204);
    expect(
      (
        await serverRequest(server, 'POST', 'auth/tenant-approle/role/backdoor', ci, {
          token_policies: ['default', 'admin'],
        })
      ).status,
    ).toBe(204);
    expect(
      (await serverRequest(server, 'POST', 'auth/tenant-approle/role/harmless', ci, { token_policies: ['tenant-a'] }))
        .status,
    ).toBe(204);
    expect((await serverRequest(server, 'POST', 'sys/auth/tenant-users', ci, { type: 'userpass' })).status).toBe(204);
    expect(
      (
        await serverRequest(server, 'POST', 'auth/tenant-users/users/ops', ci, {
          password: randomUUID(),
          token_policies: ['provisioner', 'vault-bootstrap'],
        })
      ).status,
    ).toBe(204);
    const found = (await status()).privilegedAuthRoles;
    expect(found).toEqual(
      expect.arrayContaining([
        { path: 'auth/tenant-approle/role/backdoor', policies: ['admin'] },
        { path: 'auth/tenant-users/users/ops', policies: ['provisioner', 'vault-bootstrap'] },
      ]),
    );
    expect(found).toHaveLength(2);
    const text = await runCli([
      'status',
      '--store',
      'file',
      '--file-dir',
      storeDirectory,
      '--vault-addr',
      server.address,
    ]);
    expect(text.stdout).toMatch(/^problems {3}2$/m);
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  });

  it('the prefix-scoped provisioner refuses the same: no Kubernetes host, no blinding tune', async () => {
    const policies = join(await mkdtemp(join(tmpdir(), 'vb-scoped-')), 'policies');
    await mkdir(policies);
    await copyFile(SCOPED_PROVISIONER, join(policies, 'provisioner.hcl'));
    const { server, store } = await setUp(kind, servers, {}, '--policies-dir', policies);
    const ci = (await latest(store, 'vault-provisioner-token')).token as string;
    expect((await serverRequest(server, 'POST', 'sys/auth/tenant-k8s', ci, { type: 'kubernetes' })).status).toBe(204);
    expect(
      (await serverRequest(server, 'POST', 'auth/tenant-k8s/config', ci, { kubernetes_host: 'http://127.0.0.1:9' }))
        .status,
    ).toBe(403);
    expect((await serverRequest(server, 'POST', 'sys/auth/tenant-nest/inner', ci, { type: 'kubernetes' })).status).toBe(
      204,
    );
    expect(
      (
        await serverRequest(server, 'POST', 'auth/tenant-nest/inner/config', ci, {
          kubernetes_host: 'http://127.0.0.1:9',
        })
      ).status,
    ).toBe(403);
    expect((await serverRequest(server, 'POST', 'sys/mounts/tenant-kv', ci, { type: 'kv' })).status).toBe(204);
    for (const path of ['sys/auth/tenant-k8s/tune', 'sys/mounts/tenant-kv/tune', 'sys/mounts/sys/tune']) {
      for (const body of BLINDING)
        expect(
          (await serverRequest(server, 'POST', path, ci, body)).status,
          `POST ${path} ${JSON.stringify(body)}`,
        ).toBe(403);
    }
    for (const name of PROTECTED_POLICIES) {
      for (const spelling of [...foldingSpellings(name), ...whiteSpaceSpellings(name)]) {
        expect([400, 403], JSON.stringify(spelling)).toContain(
          (
            await serverRequest(server, 'PUT', `sys/policies/acl/${encodeURIComponent(spelling)}`, ci, {
              policy: ANY_POWER,
            })
          ).status,
        );
      }
    }
  });
});

describe('the folding family', () => {
  it('holds one spelling per capital, per U+0130/U+212A letter and per end with an ASCII space; the other white space apart', () => {
    expect(GO_SPACES).toHaveLength(25);
    expect(foldingSpellings('admin')).toEqual([
      'Admin',
      'aDmin',
      'adMin',
      'admIn',
      'adm\u0130n',
      'admiN',
      ' admin',
      'admin ',
    ]);
    expect(whiteSpaceSpellings('admin')).toHaveLength(48);
    expect(whiteSpaceSpellings('admin')).toEqual(expect.arrayContaining(['\u00a0admin', 'admin\u3000']));
  });
});
