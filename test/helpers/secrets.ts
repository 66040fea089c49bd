import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { secretNames, type SecretStore } from '../../src/store/types.js';

/** Every key and token value the store has ever held (all versions), plus the hex form of each key. */
export async function secretValuesIn(store: SecretStore, prefix = 'vault'): Promise<string[]> {
  const names = secretNames(prefix);
  const values: string[] = [];
  for (const text of await store.readAllVersions(names.unsealKeys)) {
    for (const key of (JSON.parse(text) as { keysBase64: string[] }).keysBase64)
      values.push(key, Buffer.from(key, 'base64').toString('hex'));
  }
  for (const name of [names.rootToken, names.provisionerToken, names.managementToken]) {
    for (const text of await store.readAllVersions(name)) {
      const token = (JSON.parse(text) as { token: string | null }).token;
      if (token) values.push(token);
    }
  }
  return values;
}

/** Fails naming the secret's kind (never its value) when any output contains any secret. */
export function expectNoSecretIn(outputs: readonly string[], secrets: readonly string[]): void {
  expect(secrets.length).toBeGreaterThan(0);
  const joined = outputs.join('\n');
  const leaked = secrets.filter((secret) => joined.includes(secret)).length;
  expect(leaked, `${leaked} secret value(s) found in captured output`).toBe(0);
}

/** Every regular file under a directory, skipping the given subtrees. */
export async function filesUnder(directory: string, skip: readonly string[] = []): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(directory)) {
    const path = join(directory, entry);
    if (skip.includes(path)) continue;
    const info = await stat(path);
    if (info.isDirectory()) found.push(...(await filesUnder(path, skip)));
    else if (info.isFile()) found.push(path);
  }
  return found;
}

export async function expectNoSecretInFiles(files: readonly string[], secrets: readonly string[]): Promise<void> {
  const contents = await Promise.all(files.map((file) => readFile(file, 'utf8')));
  expectNoSecretIn(contents, secrets);
}
