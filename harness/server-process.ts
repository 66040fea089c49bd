import { randomBytes, randomUUID } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerKind } from '../src/vault/servers.js';
import { TEST_SERVER_TRAITS } from './server-traits.js';
import { freePort, launchChildServer, startChildServer, type LaunchedServer } from './child-server.js';
import type { AwsKmsSeal } from './kms.js';

export type { ServerKind };

const TOOLS = fileURLToPath(new URL('../.tools', import.meta.url));

/**
 * A server binary the harness starts: `openbao` and `vault` are the current builds; `openbao-2.6`
 * is OpenBao 2.6.x, the last line with the cloud KMS seals built in (2.7 made them plugins).
 */
export type ServerBuild = ServerKind | 'openbao-2.6';

const BUILDS: Readonly<Record<ServerBuild, { kind: ServerKind; binary: string; tool: string }>> = {
  openbao: { kind: 'openbao', binary: join(TOOLS, 'bao'), tool: 'openbao' },
  'openbao-2.6': { kind: 'openbao', binary: join(TOOLS, 'bao-2.6', 'bao'), tool: 'openbao-2.6' },
  vault: { kind: 'vault', binary: join(TOOLS, 'vault'), tool: 'vault' },
};

/** Every server the server-facing suites run against. */
export const SERVER_KINDS: readonly ServerKind[] = ['openbao', 'vault'];

/** The servers the awskms suites run against: both have the seal built in. */
export const KMS_SERVER_BUILDS: readonly ServerBuild[] = ['openbao-2.6', 'vault'];

export function kindOfBuild(build: ServerBuild): ServerKind {
  return BUILDS[build].kind;
}

/** Why a server cannot run here (install-tools wrote the error), or undefined when it can. */
export function missingServer(build: ServerBuild): string | undefined {
  const { binary, tool } = BUILDS[build];
  if (existsSync(binary)) return undefined;
  const errorFile = join(TOOLS, `${tool}-error`);
  const error = existsSync(errorFile) ? readFileSync(errorFile, 'utf8').trim() : 'run npm run tools';
  return `${binary} is missing: ${error}`;
}

export interface ServerOptions {
  kind?: ServerKind;
  /** Which binary of that kind; defaults to the current build of `kind`. */
  build?: ServerBuild;
  /**
   * `auto`: auto-unseal (init returns recovery keys): OpenBao's static seal, Vault's transit seal.
   * An AwsKmsSeal: the awskms seal on a key in moto (harness/kms.ts).
   */
  seal?: 'shamir' | 'auto' | AwsKmsSeal;
  /** PEM files for a TLS listener; with clientCaFile, clients must present a certificate it signed. */
  tls?: { certFile: string; keyFile: string; clientCaFile?: string };
  /**
   * A file audit device at `auditLog`. OpenBao declares it in the config (it refuses API-created
   * devices); Vault only takes it through the API, so `enableAudit` adds it once a token exists.
   */
  audit?: boolean;
  /** Raft peers to join (their API addresses). */
  retryJoin?: string[];
  /** OpenBao `initialize` stanzas (HCL): the server initializes itself at first start (needs an auto-unseal seal). */
  initialize?: string;
  /** Environment of the server process on top of the seal's (values its initialize stanzas read with eval_source = "env"). */
  environment?: Record<string, string>;
  nodeId?: string;
  /** More -config files after server.hcl, read at each start: the seal stanza `seal-key` writes (seal.hcl in its directory). */
  extraConfigFiles?: string[];
  /**
   * The server sees this as its pod's service account token (and a CA beside it) at
   * /var/run/secrets/kubernetes.io/serviceaccount, as in a pod: it runs in a mount namespace of
   * its own (`unshare -m`, root only; see missingPodNamespace) with a tmpfs over /run. Nothing
   * outside that process sees the files.
   */
  serviceAccountToken?: string;
}

/** Why a server cannot be given a pod's service account files here (needs root and unshare), or undefined. */
export function missingPodNamespace(): string | undefined {
  if (process.getuid?.() !== 0) return 'a private mount namespace (unshare -m) needs root';
  if (!['/usr/bin/unshare', '/bin/unshare'].some((path) => existsSync(path)))
    return 'unshare (util-linux) is not installed';
  return undefined;
}

/**
 * Runs "$0" "$@" with a tmpfs over /run (so /var/run/secrets/kubernetes.io/serviceaccount is
 * empty and private) holding $VB_SA_TOKEN and $VB_SA_CA as a pod's token and CA; the two
 * variables are removed before the server starts.
 */
const POD_FILES = [
  'set -e',
  'mount -t tmpfs -o mode=0755 tmpfs /run',
  'dir=/run/secrets/kubernetes.io/serviceaccount',
  'mkdir -p "$dir"',
  'printf %s "$VB_SA_TOKEN" > "$dir/token"',
  'printf %s "$VB_SA_CA" > "$dir/ca.crt"',
  'printf vault > "$dir/namespace"',
  'unset VB_SA_TOKEN VB_SA_CA',
  'exec "$0" "$@"',
].join('\n');

/**
 * A real `bao server` or `vault server` on loopback ports with raft storage in a temp dir.
 * stop() and start() keep the data, so a restart comes back sealed exactly as a pod would.
 */
export class TestServer {
  readonly kind: ServerKind;
  /** The binary the next start runs (useBuild changes it: an upgrade or a downgrade over the same storage). */
  build: ServerBuild;
  readonly directory: string;
  readonly port: number;
  readonly clusterPort: number;
  options: ServerOptions;
  #server: LaunchedServer | undefined;
  #environment: Record<string, string> = {};

  private constructor(directory: string, port: number, clusterPort: number, options: ServerOptions) {
    this.build = options.build ?? options.kind ?? 'openbao';
    this.kind = kindOfBuild(this.build);
    this.directory = directory;
    this.port = port;
    this.clusterPort = clusterPort;
    this.options = options;
  }

  static async create(options: ServerOptions = {}, ports?: { port: number; clusterPort: number }): Promise<TestServer> {
    const build = options.build ?? options.kind ?? 'openbao';
    const missing = missingServer(build);
    if (missing) throw new Error(missing);
    const directory = await mkdtemp(join(tmpdir(), `vb-${build}-`));
    const server = new TestServer(
      directory,
      ports?.port ?? (await freePort()),
      ports?.clusterPort ?? (await freePort()),
      options,
    );
    await server.#writeConfig();
    return server;
  }

  /** Nodes of one raft cluster, each with retry_join to every other; created, not started. */
  static async createCluster(size: number, options: ServerOptions = {}): Promise<TestServer[]> {
    const ports: Array<{ port: number; clusterPort: number }> = [];
    for (let index = 0; index < size; index += 1) ports.push({ port: await freePort(), clusterPort: await freePort() });
    const scheme = options.tls ? 'https' : 'http';
    return Promise.all(
      ports.map((own, index) =>
        TestServer.create(
          {
            ...options,
            nodeId: `node-${index}`,
            retryJoin: ports.filter((other) => other !== own).map((other) => `${scheme}://127.0.0.1:${other.port}`),
          },
          own,
        ),
      ),
    );
  }

  static async start(options: ServerOptions = {}): Promise<TestServer> {
    const server = await TestServer.create(options);
    await server.start();
    return server;
  }

  get address(): string {
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  get auditLog(): string {
    return join(this.directory, 'audit.log');
  }

  get dataDirectory(): string {
    return join(this.directory, 'data');
  }

  async start(): Promise<void> {
    await mkdir(this.dataDirectory, { recursive: true });
    const [command, args] = this.#command();
    // A TLS listener answers plain HTTP with 400, which is enough to know it listens.
    this.#server = await startChildServer(
      command,
      args,
      `http://127.0.0.1:${this.port}/v1/sys/health`,
      this.#processEnvironment(),
    );
  }

  /**
   * Starts the process without waiting for it to listen: for a server expected to exit at once
   * or to hang before it listens (a KMS seal that cannot reach its KMS). stop() ends it.
   */
  async launch(): Promise<LaunchedServer> {
    await mkdir(this.dataDirectory, { recursive: true });
    const [command, args] = this.#command();
    const launched = launchChildServer(command, args, this.#processEnvironment());
    this.#server = launched;
    return launched;
  }

  /** Another release of the same product from the next start, over the same storage (stop first). */
  useBuild(build: ServerBuild): void {
    if (kindOfBuild(build) !== this.kind) throw new Error(`useBuild: ${build} is not a build of ${this.kind}`);
    this.build = build;
  }

  /** A new seal stanza, in force from the next start (a seal migration starts that way). */
  async changeSeal(seal: ServerOptions['seal']): Promise<void> {
    this.options = { ...this.options, seal };
    await this.#writeConfig();
  }

  #command(): [string, string[]] {
    const server = [
      BUILDS[this.build].binary,
      'server',
      `-config=${join(this.directory, 'server.hcl')}`,
      ...(this.options.extraConfigFiles ?? []).map((file) => `-config=${file}`),
    ];
    if (this.options.serviceAccountToken === undefined) return [server[0]!, server.slice(1)];
    const missing = missingPodNamespace();
    if (missing) throw new Error(missing);
    // unshare execs sh, which execs the server: one process, stopped as usual.
    return ['unshare', ['--mount', '--propagation', 'private', 'sh', '-c', POD_FILES, ...server]];
  }

  #processEnvironment(): Record<string, string> {
    const pod: Record<string, string> =
      this.options.serviceAccountToken === undefined
        ? {}
        : { VB_SA_TOKEN: this.options.serviceAccountToken, VB_SA_CA: this.#serviceAccountCa() };
    return { PATH: process.env.PATH ?? '', HOME: this.directory, ...this.#environment, ...pod };
  }

  /** Any certificate will do: the Kubernetes auth method only loads it when it reads the token. */
  #serviceAccountCa(): string {
    const file = join(this.directory, 'service-account-ca.pem');
    if (!existsSync(file)) {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          join(this.directory, 'service-account-ca.key'),
          '-out',
          file,
          '-days',
          '2',
          '-subj',
          '/CN=test service account CA',
        ],
        { stdio: 'ignore' },
      );
    }
    return readFileSync(file, 'utf8');
  }

  async stop(): Promise<void> {
    await this.#server?.stop();
    this.#server = undefined;
  }

  /** The last characters the running server printed (for a failure's message; servers log no secret values). */
  output(): string {
    return this.#server?.output() ?? '';
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Vault: enables the file audit device at `auditLog` (kept in raft across restarts). OpenBao: declared in the config already. */
  async enableAudit(token: string): Promise<void> {
    if (this.kind === 'openbao') return;
    const enabled = await serverRequest(this, 'GET', 'sys/audit', token);
    if (enabled.body.data?.['test/'] ?? enabled.body['test/']) return;
    const answer = await serverRequest(this, 'PUT', 'sys/audit/test', token, {
      type: 'file',
      options: { file_path: this.auditLog },
    });
    if (answer.status !== 204)
      throw new Error(`enable audit: HTTP ${answer.status}: ${JSON.stringify(answer.body.errors ?? answer.body)}`);
  }

  async #writeConfig(): Promise<void> {
    const { tls, seal, audit, retryJoin } = this.options;
    const scheme = tls ? 'https' : 'http';
    const lines = [
      'storage "raft" {',
      `  path = "${this.dataDirectory}"`,
      `  node_id = "${this.options.nodeId ?? `node-${this.port}`}"`,
      // The production setting (k8s/base/openbao.hcl): raft's tightest timings. The default (5)
      // stretches leader election, and with it sys/init on a single node, about fivefold.
      '  performance_multiplier = 1',
      ...(retryJoin ?? []).flatMap((leader) => ['  retry_join {', `    leader_api_addr = "${leader}"`, '  }']),
      '}',
      'listener "tcp" {',
      `  address = "127.0.0.1:${this.port}"`,
      `  cluster_address = "127.0.0.1:${this.clusterPort}"`,
      ...(tls
        ? [`  tls_cert_file = "${tls.certFile}"`, `  tls_key_file = "${tls.keyFile}"`]
        : ['  tls_disable = true']),
      ...(tls?.clientCaFile
        ? [`  tls_client_ca_file = "${tls.clientCaFile}"`, '  tls_require_and_verify_client_cert = true']
        : []),
      '}',
      `api_addr = "${scheme}://127.0.0.1:${this.port}"`,
      `cluster_addr = "https://127.0.0.1:${this.clusterPort}"`,
      'disable_mlock = true',
      'log_level = "warn"',
    ];
    this.#environment = {};
    if (typeof seal === 'object') {
      lines.push(
        'seal "awskms" {',
        `  region = "${seal.region}"`,
        `  kms_key_id = "${seal.keyId}"`,
        `  endpoint = "${seal.endpoint}"`,
        ...(seal.disabled === true ? ['  disabled = "true"'] : []),
        '}',
      );
      // The seal takes the SDK's credential chain: the environment, so no secret is in the config file.
      this.#environment = {
        AWS_ACCESS_KEY_ID: seal.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: seal.credentials.secretAccessKey,
        AWS_EC2_METADATA_DISABLED: 'true',
      };
    }
    if (seal === 'auto' && TEST_SERVER_TRAITS[this.kind].testAutoUnsealSeal === 'static') {
      const keyFile = join(this.directory, 'static-seal.key');
      await writeFile(keyFile, randomBytes(32), { mode: 0o600 });
      lines.push('seal "static" {', '  current_key_id = "test-1"', `  current_key = "file://${keyFile}"`, '}');
    }
    if (seal === 'auto' && TEST_SERVER_TRAITS[this.kind].testAutoUnsealSeal === 'transit') {
      const transit = await transitVault();
      const keyName = `autounseal-${this.port}`;
      await transit.createKey(keyName);
      lines.push(
        'seal "transit" {',
        `  address = "${transit.address}"`,
        `  key_name = "${keyName}"`,
        '  mount_path = "transit/"',
        '}',
      );
      // The seal reads its token from VAULT_TOKEN, so it is never written to the config file.
      this.#environment = { VAULT_TOKEN: transit.token };
    }
    if (this.options.initialize !== undefined) lines.push(this.options.initialize);
    this.#environment = { ...this.#environment, ...this.options.environment };
    if (audit && this.kind === 'openbao') {
      lines.push('audit "file" "test" {', '  options {', `    file_path = "${this.auditLog}"`, '  }', '}');
    }
    await writeFile(join(this.directory, 'server.hcl'), `${lines.join('\n')}\n`);
  }
}

/** Plain HTTP call to the server, for assertions that must not go through the code under test. */
export async function serverRequest(
  server: { address: string },
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.address}/v1/${path}`, {
    method,
    headers: {
      ...(token ? { 'X-Vault-Token': token } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

interface TransitVault {
  address: string;
  token: string;
  createKey(name: string): Promise<void>;
}

let transit: Promise<TransitVault> | undefined;

/**
 * The key service of Vault's transit seal: one `vault server -dev` per test process (its keys
 * live in memory, so it must outlive every restart of the servers that use it), with the
 * transit engine mounted. It goes when the test process goes, however that ends: a shell
 * between them kills it once its standard input, a pipe from this process, reaches end of file.
 */
function transitVault(): Promise<TransitVault> {
  transit ??= (async () => {
    const port = await freePort();
    const token = randomUUID();
    const home = await mkdtemp(join(tmpdir(), 'vb-transit-'));
    const address = `http://127.0.0.1:${port}`;
    const args = [
      'server',
      '-dev',
      `-dev-listen-address=127.0.0.1:${port}`,
      `-dev-root-token-id=${token}`,
      '-dev-no-store-token',
    ];
    const child = spawn('sh', ['-c', WATCHDOG, BUILDS.vault.binary, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: home },
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    await waitUntilActive(address, child);
    const mount = await serverRequest({ address }, 'POST', 'sys/mounts/transit', token, { type: 'transit' });
    if (mount.status !== 204) throw new Error(`transit Vault: mount transit: HTTP ${mount.status}`);
    return {
      address,
      token,
      createKey: async (name: string) => {
        const created = await serverRequest({ address }, 'POST', `transit/keys/${name}`, token, {});
        if (created.status >= 300) throw new Error(`transit Vault: create key ${name}: HTTP ${created.status}`);
      },
    };
  })();
  return transit;
}

/** Runs "$0" "$@" and kills it when standard input closes; exits with its status. */
const WATCHDOG = [
  'exec 3<&0',
  '"$0" "$@" </dev/null & server=$!',
  '(read -r _ <&3; kill -KILL "$server" 2>/dev/null) & watchdog=$!',
  'wait "$server"; status=$?',
  'kill "$watchdog" 2>/dev/null',
  'exit "$status"',
].join('\n');

async function waitUntilActive(address: string, child: ReturnType<typeof spawn>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`transit Vault exited with code ${child.exitCode}`);
    try {
      const health = await fetch(`${address}/v1/sys/health`, { signal: AbortSignal.timeout(1_000) });
      if (health.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.stdin?.end();
  throw new Error(`transit Vault was not ready at ${address} within 60 s`);
}
