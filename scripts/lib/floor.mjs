// The bench's floor: the same Vault calls vault-bootstrap makes, made directly with plain fetch
// and nothing else (no config parsing, no store abstraction, no retries, no logging). Run as
// `node floor.mjs <scenario> <vault address> <work dir>`, a separate process like the CLI, so
// that process start-up, module loading and peak RSS compare like for like. Plain JavaScript
// because the floor must be a bare `node` process: a TypeScript loader would add its own cost.
// Keys and tokens go to files in <work dir>; nothing is printed but step timings and errors.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const POLICIES_DIRECTORY = new URL('../../policies/', import.meta.url);
const POLICY_NAMES = ['admin', 'provisioner'];
const PROVISIONER_TTL_SECONDS = 720 * 3600;
// What vault-bootstrap writes for the token role with its default --provisioner-ttl.
const PROVISIONER_ROLE = {
  allowed_policies: ['provisioner'],
  orphan: true,
  renewable: true,
  token_type: 'service',
  token_explicit_max_ttl: PROVISIONER_TTL_SECONDS,
};
const ACTIVE_WAIT_MS = 60_000;

const [scenario, address, workDirectory] = process.argv.slice(2);
const keysFile = join(workDirectory ?? '.', 'floor-keys.json');
const tokenFile = join(workDirectory ?? '.', 'floor-provisioner-token.json');
const stepTimings = {};

const scenarios = {
  /** (a) fresh Shamir server → initialized, unsealed, configured, token issued. */
  async fresh() {
    await timed('health', () => expectHealth(501));
    const init = await timed('init', () =>
      call('PUT', 'sys/init', { body: { secret_shares: 5, secret_threshold: 3 } }),
    );
    await timed('store', () =>
      writeFile(keysFile, JSON.stringify({ keys: init.keys_base64, rootToken: init.root_token }), { mode: 0o600 }),
    );
    await timed('unseal', () => unsealWith(init.keys_base64.slice(0, 3)));
    // A single raft node answers "standby" for a moment after unsealing; writes need the active node.
    await timed('wait-active', waitUntilActive);
    const token = init.root_token;
    await timed('policies', async () => {
      for (const name of POLICY_NAMES) {
        const policy = await readFile(new URL(`${name}.hcl`, POLICIES_DIRECTORY), 'utf8');
        await call('PUT', `sys/policies/acl/${name}`, { token, body: { policy } });
      }
    });
    await timed('role', () => call('POST', 'auth/token/roles/provisioner', { token, body: PROVISIONER_ROLE }));
    const created = await timed('token', () =>
      call('POST', 'auth/token/create/provisioner', {
        token,
        body: { ttl: `${PROVISIONER_TTL_SECONDS}s`, no_parent: true },
      }),
    );
    await writeFile(tokenFile, JSON.stringify({ token: created.auth.client_token }), { mode: 0o600 });
  },

  /** (b) restarted, sealed server → unsealed. */
  async sealed() {
    await timed('health', () => expectHealth(503));
    const { keys } = JSON.parse(await readFile(keysFile, 'utf8'));
    await timed('unseal', () => unsealWith(keys.slice(0, 3)));
  },

  /** (d) configured, unsealed server → confirmed unchanged. */
  async noop() {
    await timed('health', () => expectHealth(200));
    const { rootToken } = JSON.parse(await readFile(keysFile, 'utf8'));
    const { token } = JSON.parse(await readFile(tokenFile, 'utf8'));
    for (const name of POLICY_NAMES) await call('GET', `sys/policies/acl/${name}`, { token: rootToken });
    await call('GET', 'auth/token/roles/provisioner', { token: rootToken });
    await call('GET', 'auth/token/lookup-self', { token });
  },
};

async function call(method, path, { token, body } = {}) {
  const response = await fetch(`${address}/v1/${path}`, {
    method,
    headers: { ...(token ? { 'X-Vault-Token': token } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  // The status only: an answer body may hold keys or tokens.
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}`);
  return text ? JSON.parse(text) : {};
}

async function health() {
  const response = await fetch(`${address}/v1/sys/health?standbyok=false&uninitcode=501&sealedcode=503`);
  await response.arrayBuffer();
  return response.status;
}

async function expectHealth(expected) {
  const status = await health();
  if (status !== expected) throw new Error(`sys/health: expected ${expected}, got ${status}`);
}

async function unsealWith(keys) {
  let answer;
  for (const key of keys) answer = await call('PUT', 'sys/unseal', { body: { key } });
  if (answer.sealed) throw new Error('still sealed after the threshold of keys');
}

async function waitUntilActive() {
  const deadline = Date.now() + ACTIVE_WAIT_MS;
  while ((await health()) !== 200) {
    if (Date.now() > deadline) throw new Error(`not active within ${ACTIVE_WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function timed(step, action) {
  const started = performance.now();
  const result = await action();
  stepTimings[step] = Math.round(performance.now() - started);
  return result;
}

if (!(scenario in scenarios) || !address || !workDirectory) {
  console.error(`usage: node floor.mjs ${Object.keys(scenarios).join('|')} <vault address> <work dir>`);
  process.exit(2);
}
try {
  await scenarios[scenario]();
  console.log(JSON.stringify({ stepTimings }));
} catch (error) {
  console.error(`floor ${scenario}: ${error.message}`);
  process.exit(1);
}
