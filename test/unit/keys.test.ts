import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decideGeneration } from '../../src/commands/generate-root.js';
import { decideRotation } from '../../src/commands/rotate-keys.js';
import { loadConfig } from '../../src/config/index.js';
import { BootstrapError } from '../../src/errors.js';
import { readPgpPublicKeys } from '../../src/pgp.js';
import { Secret } from '../../src/secret.js';
import { FileStore } from '../../src/store/file.js';
import { Records, type UnsealKeys, type UnsealKeyVersions } from '../../src/store/records.js';
import { decodeGeneratedRootToken, type RotationStatus } from '../../src/vault/rotation.js';

const keys = (status?: 'pending' | 'active', nonce?: string): UnsealKeys => ({
  type: 'shamir',
  keys: [new Secret('a'), new Secret('b')],
  threshold: 2,
  shares: 2,
  initializedAt: '2026-01-01T00:00:00.000Z',
  ...(status ? { status } : {}),
  ...(nonce ? { nonce } : {}),
});

const idle: RotationStatus = {
  started: false,
  nonce: '',
  progress: 0,
  required: 2,
  verificationRequired: false,
  verificationNonce: '',
  newShares: 0,
  newThreshold: 0,
};
const inVerification = (nonce: string): RotationStatus => ({
  ...idle,
  started: true,
  nonce,
  verificationRequired: true,
  verificationNonce: 'v-1',
});
const started = (nonce: string): RotationStatus => ({ ...idle, started: true, nonce, verificationRequired: true });

const versions = (...records: UnsealKeys[]): UnsealKeyVersions => {
  const pending: UnsealKeyVersions['pending'] = [];
  for (let index = records.length - 1; index >= 0; index -= 1) {
    if (records[index]!.status !== 'pending')
      return { active: { record: records[index]!, version: index + 1 }, pending, count: records.length };
    pending.push({ record: records[index]!, version: index + 1 });
  }
  return { active: undefined, pending, count: records.length };
};

describe('decideRotation: (stored versions, server rotation) → action', () => {
  const rows: Array<[string, UnsealKeyVersions, RotationStatus, string]> = [
    ['nothing pending, server idle', versions(keys()), idle, 'start'],
    [
      'nothing pending, a rotation left on the server (a run died before storing)',
      versions(keys()),
      inVerification('n-1'),
      'start+cancel',
    ],
    [
      'pending whose rotation awaits verification',
      versions(keys(), keys('pending', 'n-1')),
      inVerification('n-1'),
      'resume-verification',
    ],
    [
      'pending, the server runs another rotation',
      versions(keys(), keys('pending', 'n-1')),
      inVerification('n-2'),
      'settle-then-start+cancel',
    ],
    [
      'pending, its rotation not yet in verification',
      versions(keys(), keys('pending', 'n-1')),
      started('n-1'),
      'settle-then-start+cancel',
    ],
    [
      'pending, server idle (verified before a crash, or dropped by a restart)',
      versions(keys(), keys('pending', 'n-1')),
      idle,
      'settle-then-start',
    ],
    [
      'active after pending: nothing to settle',
      versions(keys(), keys('pending', 'n-1'), keys('active', 'n-1')),
      idle,
      'start',
    ],
  ];
  it.each(rows)('%s', (_name, stored, server, expected) => {
    const action = decideRotation(stored, server);
    expect(action.kind + ('cancelFirst' in action && action.cancelFirst ? '+cancel' : '')).toBe(expected);
  });
});

describe('decideGeneration', () => {
  const generation = { nonce: 'n-1', otp: new Secret('pad'), startedAt: '' };
  it('resumes only the attempt whose pad is stored', () => {
    const attempt = (nonce: string) => ({ started: true, nonce, progress: 1, required: 2 });
    expect(decideGeneration({ token: null, createdAt: '', generation }, attempt('n-1'))).toEqual({ kind: 'resume' });
    expect(decideGeneration({ token: null, createdAt: '', generation }, attempt('n-2'))).toEqual({
      kind: 'start',
      cancelFirst: true,
    });
    expect(decideGeneration({ token: null, createdAt: '' }, attempt('n-1'))).toEqual({
      kind: 'start',
      cancelFirst: true,
    });
    expect(decideGeneration(undefined, { started: false, nonce: '', progress: 0, required: 2 })).toEqual({
      kind: 'start',
      cancelFirst: false,
    });
  });
});

describe('the OTP decoding', () => {
  it('token = base64-decoded encoded token XOR the pad', () => {
    const pad = 'VXKhUgeY9vSNVubJulyLqgqlzH';
    const token = 's.Nwli04OMHhyGpPwonET4d5WA';
    const encoded = Buffer.from([...Buffer.from(token)].map((byte, index) => byte ^ pad.charCodeAt(index)))
      .toString('base64')
      .replace(/=+$/, '');
    expect(decodeGeneratedRootToken(new Secret(encoded), new Secret(pad)).reveal()).toBe(token);
    expect(() => decodeGeneratedRootToken(new Secret(encoded), new Secret('short'))).toThrow(BootstrapError);
  });
});

describe('Records: the active version and the pending ones after it', () => {
  it('readUnsealKeys skips a pending latest version; readUnsealKeyVersions lists it', async () => {
    const store = new FileStore(await mkdtemp(join(tmpdir(), 'vb-records-')));
    const records = new Records(store, 'vault');
    await records.writeUnsealKeys(keys());
    await records.writeUnsealKeys({ ...keys('pending', 'n-1'), keys: [new Secret('c'), new Secret('d')] });
    expect((await records.readUnsealKeys())!.keys.map((key) => key.reveal())).toEqual(['a', 'b']);
    const stored = await records.readUnsealKeyVersions();
    expect(stored.active?.version).toBe(1);
    expect(stored.pending.map((entry) => [entry.version, entry.record.nonce])).toEqual([[2, 'n-1']]);
    await records.writeUnsealKeys({ ...keys('active', 'n-1'), keys: [new Secret('c'), new Secret('d')] });
    expect((await records.readUnsealKeys())!.keys.map((key) => key.reveal())).toEqual(['c', 'd']);
    // A copy of the active keys written after a pending version (the sidecar recording the
    // cluster id) does not hide it; once the pending keys are active, nothing is pending.
    await records.writeUnsealKeys({ ...keys('pending', 'n-2'), keys: [new Secret('e'), new Secret('f')] });
    await records.writeUnsealKeys({
      ...keys('active', 'n-1'),
      keys: [new Secret('c'), new Secret('d')],
      clusterId: 'cluster-1',
    });
    const withCopy = await records.readUnsealKeyVersions();
    expect(withCopy.active?.version).toBe(5);
    expect(withCopy.pending.map((entry) => entry.record.nonce)).toEqual(['n-2']);
    await records.writeUnsealKeys({ ...keys('active', 'n-2'), keys: [new Secret('e'), new Secret('f')] });
    expect((await records.readUnsealKeyVersions()).pending).toEqual([]);
    // An init record reads and writes exactly as before the rotation fields existed.
    expect(JSON.parse((await store.readAllVersions('vault-unseal-keys'))[0]!)).toEqual({
      type: 'shamir',
      keysBase64: ['a', 'b'],
      threshold: 2,
      shares: 2,
      initializedAt: keys().initializedAt,
    });
  });
});

/** A minimal v4 RSA public-key packet (new-format header, tag 6). */
function publicKeyPacket(): Buffer {
  const body = Buffer.concat([
    Buffer.from([4, 0x65, 0x00, 0x00, 0x00, 1]),
    Buffer.from([0, 8, 0xc5]),
    Buffer.from([0, 2, 3]),
  ]);
  return Buffer.concat([Buffer.from([0xc0 | 6, body.length]), body]);
}

describe('readPgpPublicKeys', () => {
  it('binary and armored public keys: base64 of the binary key and the v4 fingerprint', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'vb-pgp-unit-'));
    const packet = publicKeyPacket();
    const body = packet.subarray(2);
    const fingerprint = createHash('sha1')
      .update(Buffer.from([0x99, 0, body.length]))
      .update(body)
      .digest('hex');
    await writeFile(join(directory, 'a.pub'), packet);
    await writeFile(
      join(directory, 'b.asc'),
      `-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: test\n\n${packet.toString('base64')}\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n`,
    );
    const [binary, armored] = readPgpPublicKeys([join(directory, 'a.pub')], '--recovery-pgp-keys').concat(
      readPgpPublicKeys([join(directory, 'b.asc')], '--recovery-pgp-keys'),
    );
    expect(binary).toMatchObject({ keyBase64: packet.toString('base64'), fingerprint });
    expect(armored).toMatchObject({ keyBase64: packet.toString('base64'), fingerprint });
    expect(() =>
      readPgpPublicKeys([join(directory, 'a.pub'), join(directory, 'b.asc')], '--recovery-pgp-keys'),
    ).toThrow(/the same public key is given twice/);
  });

  it('refuses what is not a public key, naming the flag and the file', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'vb-pgp-unit-'));
    const secret = Buffer.from(publicKeyPacket());
    secret[0] = 0xc0 | 5;
    await writeFile(join(directory, 'secret.gpg'), secret);
    await writeFile(join(directory, 'text'), 'hello');
    await writeFile(join(directory, 'truncated'), Buffer.from([0xc6, 0xff, 0, 0, 0, 0xff]));
    for (const [file, message] of [
      ['secret.gpg', 'is a private key'],
      ['text', 'is not an OpenPGP public key'],
      ['truncated', 'is not an OpenPGP public key'],
      ['missing', 'cannot read'],
    ]) {
      expect(() => readPgpPublicKeys([join(directory, file!)], '--recovery-pgp-keys')).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(message!) }),
      );
    }
  });
});

describe('loadConfig: the key-lifecycle commands and flags', () => {
  const base = ['--store', 'file'];
  it('rotate-keys keeps the current split unless one is given; --revoke-after belongs to generate-root', () => {
    expect(loadConfig(['rotate-keys', ...base], {}).splitGiven).toEqual({ secret: false, recovery: false });
    expect(loadConfig(['rotate-keys', ...base, '--secret-shares', '4'], {}).splitGiven).toEqual({
      secret: true,
      recovery: false,
    });
    expect(loadConfig(['rotate-keys', ...base], { VB_RECOVERY_THRESHOLD: '2' }).splitGiven).toEqual({
      secret: false,
      recovery: true,
    });
    expect(loadConfig(['generate-root', ...base, '--revoke-after'], {}).revokeAfter).toBe(true);
    expect(loadConfig(['generate-root', ...base], { VB_REVOKE_AFTER: 'true' }).revokeAfter).toBe(true);
    expect(() => loadConfig(['run', ...base, '--revoke-after'], {})).toThrow(
      /--revoke-after\/VB_REVOKE_AFTER: only valid with the generate-root command/,
    );
    expect(() => loadConfig(['generate-root', ...base, '--recovery-pgp-keys', 'x'], {})).toThrow(
      /only valid with the run, plan and rotate-keys commands/,
    );
  });
});

describe('vault_bootstrap_keys_age_seconds', () => {
  it('is the time since the keys the loop last read were created, computed at scrape time', async () => {
    const { Metrics } = await import('../../src/metrics.js');
    const metrics = new Metrics();
    metrics.keysCreated(new Date(Date.now() - 120_000).toISOString());
    expect(await metrics.text()).toMatch(/^vault_bootstrap_keys_age_seconds 12\d$/m);
  });
});

describe('KeyRotationApi: one set of calls, two servers (paths from servers.ts)', () => {
  const recorder = () => {
    const calls: string[] = [];
    const client = {
      call: async (method: string, path: string, options: { token?: Secret } = {}) => {
        calls.push(`${method} ${path}${options.token ? ' (token)' : ''}`);
        return { status: 200, body: { data: { started: true, nonce: 'n', complete: false, progress: 1 } } };
      },
    };
    return { calls, client: client as unknown as import('../../src/vault/client.js').VaultClient };
  };

  it.each([
    ['openbao', 'unseal', 'sys/rotate/root', ' (token)'],
    ['openbao', 'recovery', 'sys/rotate/recovery', ' (token)'],
    ['vault', 'unseal', 'sys/rekey', ''],
    ['vault', 'recovery', 'sys/rekey-recovery-key', ''],
  ] as const)('%s, %s keys: %s', async (server, kind, base, token) => {
    const { KeyRotationApi } = await import('../../src/vault/rotation.js');
    const { calls, client } = recorder();
    const rotation = new KeyRotationApi(client, server, kind, new Secret('token'));
    await rotation.status();
    await rotation.start({ shares: 3, threshold: 2, requireVerification: true });
    await rotation.update(new Secret('key'), 'n');
    await rotation.verify(new Secret('key'), 'n');
    await rotation.cancel();
    expect(calls).toEqual(
      [
        `GET ${base}/init`,
        `POST ${base}/init`,
        `POST ${base}/update`,
        `POST ${base}/verify`,
        `DELETE ${base}/init`,
      ].map((call) => call + token),
    );
  });
});
