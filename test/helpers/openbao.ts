import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startChildServer, type ChildServer } from './child-server.js';

export const BAO = fileURLToPath(new URL('../../.tools/bao', import.meta.url));

export interface OpenBaoOptions {
  /** `static`: auto-unseal with OpenBao's static seal (init returns recovery keys). */
  seal?: 'shamir' | 'static';
  /** PEM files for a TLS listener; with clientCaFile, clients must present a certificate it signed. */
  tls?: { certFile: string; keyFile: string; clientCaFile?: string };
  /** A file audit device declared in the config (OpenBao refuses API-created audit devices). */
  audit?: boolean;
  /** Raft peers to join (their API addresses). */
  retryJoin?: string[];
  nodeId?: string;
}

/**
 * A real `bao server` on loopback ports with raft storage in a temp dir. stop() and
 * start() keep the data, so a restart comes back sealed exactly as a pod would.
 */
export class OpenBao {
  readonly directory: string;
  readonly port: number;
  readonly clusterPort: number;
  readonly options: OpenBaoOptions;
  #server: ChildServer | undefined;

  private constructor(directory: string, port: number, clusterPort: number, options: OpenBaoOptions) {
    this.directory = directory;
    this.port = port;
    this.clusterPort = clusterPort;
    this.options = options;
  }

  static async create(options: OpenBaoOptions = {}, ports?: { port: number; clusterPort: number }): Promise<OpenBao> {
    if (!existsSync(BAO)) throw new Error(`${BAO} is missing: run npm run tools`);
    const directory = await mkdtemp(join(tmpdir(), 'vb-bao-'));
    const server = new OpenBao(directory, ports?.port ?? (await freePort()), ports?.clusterPort ?? (await freePort()), options);
    await server.#writeConfig();
    return server;
  }

  /** Nodes of one raft cluster, each with retry_join to every other; created, not started. */
  static async createCluster(size: number, options: OpenBaoOptions = {}): Promise<OpenBao[]> {
    const ports: Array<{ port: number; clusterPort: number }> = [];
    for (let index = 0; index < size; index += 1) ports.push({ port: await freePort(), clusterPort: await freePort() });
    const scheme = options.tls ? 'https' : 'http';
    return Promise.all(
      ports.map((own, index) =>
        OpenBao.create(
          { ...options, nodeId: `node-${index}`, retryJoin: ports.filter((other) => other !== own).map((other) => `${scheme}://127.0.0.1:${other.port}`) },
          own,
        ),
      ),
    );
  }

  static async start(options: OpenBaoOptions = {}): Promise<OpenBao> {
    const server = await OpenBao.create(options);
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
    // A TLS listener answers plain HTTP with 400, which is enough to know it listens.
    this.#server = await startChildServer(BAO, ['server', '-config', join(this.directory, 'server.hcl')], `http://127.0.0.1:${this.port}/v1/sys/health`, {
      PATH: process.env.PATH ?? '',
      HOME: this.directory,
    });
  }

  async stop(): Promise<void> {
    await this.#server?.stop();
    this.#server = undefined;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async #writeConfig(): Promise<void> {
    const { tls, seal, audit, retryJoin } = this.options;
    const scheme = tls ? 'https' : 'http';
    const lines = [
      'storage "raft" {',
      `  path = "${this.dataDirectory}"`,
      `  node_id = "${this.options.nodeId ?? `node-${this.port}`}"`,
      ...(retryJoin ?? []).flatMap((leader) => ['  retry_join {', `    leader_api_addr = "${leader}"`, '  }']),
      '}',
      'listener "tcp" {',
      `  address = "127.0.0.1:${this.port}"`,
      `  cluster_address = "127.0.0.1:${this.clusterPort}"`,
      ...(tls ? [`  tls_cert_file = "${tls.certFile}"`, `  tls_key_file = "${tls.keyFile}"`] : ['  tls_disable = true']),
      ...(tls?.clientCaFile ? [`  tls_client_ca_file = "${tls.clientCaFile}"`, '  tls_require_and_verify_client_cert = true'] : []),
      '}',
      `api_addr = "${scheme}://127.0.0.1:${this.port}"`,
      `cluster_addr = "https://127.0.0.1:${this.clusterPort}"`,
      'disable_mlock = true',
      'log_level = "warn"',
    ];
    if (seal === 'static') {
      const keyFile = join(this.directory, 'static-seal.key');
      await writeFile(keyFile, randomBytes(32), { mode: 0o600 });
      lines.push('seal "static" {', '  current_key_id = "test-1"', `  current_key = "file://${keyFile}"`, '}');
    }
    if (audit) {
      lines.push('audit "file" "test" {', '  options {', `    file_path = "${this.auditLog}"`, '  }', '}');
    }
    await writeFile(join(this.directory, 'server.hcl'), `${lines.join('\n')}\n`);
  }
}

/** Plain HTTP call to the server, for assertions that must not go through the code under test. */
export async function baoRequest(server: OpenBao, method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.address}/v1/${path}`, {
    method,
    headers: { ...(token ? { 'X-Vault-Token': token } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}
