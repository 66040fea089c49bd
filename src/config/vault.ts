import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { parseBoolean, type Environment, type Given } from './read.js';
import type { TlsConfig } from './settings.js';

export function parseVaultAddress({ value, name }: Given): URL {
  const text = value ?? 'https://127.0.0.1:8200';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${name}: expected an address such as https://127.0.0.1:8200, got ${JSON.stringify(text)}`);
  }
  if (
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.hostname === '' ||
    url.username ||
    url.password ||
    url.search ||
    url.hash
  ) {
    throw new ConfigError(
      `${name}: expected http(s)://host:port with no credentials or query, got ${JSON.stringify(text)}`,
    );
  }
  return url;
}

/** Vault's own TLS variables (VAULT_CACERT, VAULT_CAPATH, VAULT_CLIENT_CERT/KEY, VAULT_TLS_SERVER_NAME, VAULT_SKIP_VERIFY). */
export function loadTls(env: Environment): TlsConfig {
  const readPem = (path: string, name: string): string => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new ConfigError(`${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (!text.includes('-----BEGIN')) throw new ConfigError(`${name}: ${path} is not a PEM file`);
    return text;
  };
  const caCertificates: string[] = [];
  if (env.VAULT_CACERT) caCertificates.push(readPem(env.VAULT_CACERT, 'VAULT_CACERT'));
  if (env.VAULT_CAPATH) {
    let entries: string[];
    try {
      entries = readdirSync(env.VAULT_CAPATH).sort();
    } catch (error) {
      throw new ConfigError(
        `VAULT_CAPATH: cannot read directory ${env.VAULT_CAPATH} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    for (const entry of entries) {
      const path = join(env.VAULT_CAPATH, entry);
      if (statSync(path).isFile()) caCertificates.push(readPem(path, 'VAULT_CAPATH'));
    }
    if (caCertificates.length === 0) throw new ConfigError(`VAULT_CAPATH: ${env.VAULT_CAPATH} holds no certificate`);
  }
  if (Boolean(env.VAULT_CLIENT_CERT) !== Boolean(env.VAULT_CLIENT_KEY)) {
    throw new ConfigError('VAULT_CLIENT_CERT/VAULT_CLIENT_KEY: set both or neither');
  }
  return {
    caCertificates,
    clientCertificate: env.VAULT_CLIENT_CERT ? readPem(env.VAULT_CLIENT_CERT, 'VAULT_CLIENT_CERT') : undefined,
    clientKey: env.VAULT_CLIENT_KEY ? readPem(env.VAULT_CLIENT_KEY, 'VAULT_CLIENT_KEY') : undefined,
    serverName: env.VAULT_TLS_SERVER_NAME || undefined,
    skipVerify: env.VAULT_SKIP_VERIFY ? parseBoolean(env.VAULT_SKIP_VERIFY, 'VAULT_SKIP_VERIFY') : false,
  };
}
