import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** gpg from Debian (package gnupg); the PGP tests skip, saying so, where it is missing. */
export const GPG = ['/usr/bin/gpg', '/bin/gpg'].find((path) => existsSync(path));

export interface Custodian {
  email: string;
  fingerprint: string;
  publicKeyFile: string;
  secretKeyFile: string;
}

/** A throwaway keyring with one RSA key per custodian (no passphrase), public keys exported, half armored. */
export async function makeCustodians(names: string[]): Promise<{ home: string; custodians: Custodian[] }> {
  const home = await mkdtemp(join(tmpdir(), 'vb-gpg-'));
  const gpg = (...args: string[]) =>
    execFileSync(GPG!, ['--homedir', home, '--batch', '--quiet', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const custodians: Custodian[] = [];
  for (const [index, name] of names.entries()) {
    const email = `${name}@example.test`;
    gpg('--passphrase', '', '--quick-gen-key', `${name} <${email}>`, 'rsa2048', 'encr', 'never');
    const fingerprint = /^fpr:+([0-9A-F]+):/m
      .exec(gpg('--with-colons', '--list-keys', email).toString())![1]!
      .toLowerCase();
    const publicKeyFile = join(home, `${name}.pub${index % 2 ? '.asc' : ''}`);
    await writeFile(publicKeyFile, gpg(...(index % 2 ? ['--armor'] : []), '--export', email));
    const secretKeyFile = join(home, `${name}.secret.asc`);
    await writeFile(
      secretKeyFile,
      gpg('--armor', '--pinentry-mode', 'loopback', '--passphrase', '', '--export-secret-keys', email),
    );
    custodians.push({ email, fingerprint, publicKeyFile, secretKeyFile });
  }
  return { home, custodians };
}

/** What a custodian does with their share: base64-decode and decrypt it with their private key. */
export function decryptShare(home: string, shareBase64: string): string {
  return execFileSync(GPG!, ['--homedir', home, '--batch', '--quiet', '--decrypt'], {
    input: Buffer.from(shareBase64, 'base64'),
    stdio: ['pipe', 'pipe', 'pipe'],
  })
    .toString('utf8')
    .trim();
}
