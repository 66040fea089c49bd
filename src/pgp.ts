import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';

/** One custodian's OpenPGP public key, as Vault's `pgp_keys`/`recovery_pgp_keys` want it. */
export interface PgpPublicKey {
  /** The file it came from (named in messages). */
  path: string;
  /** The binary (unarmored) key, base64: the form the server accepts. */
  keyBase64: string;
  /** Hex fingerprint of the primary key, lower case, as the server reports it. */
  fingerprint: string;
}

const PUBLIC_KEY_PACKET = 6;
const SECRET_KEY_PACKET = 5;
const ARMOR = /-----BEGIN PGP ([A-Z ]+)-----\r?\n([\s\S]*?)-----END PGP \1-----/;

/**
 * Reads and checks each `--recovery-pgp-keys` file before any network call: armored or
 * binary, it must start with an OpenPGP public-key packet (a secret key is refused: it
 * must never travel to the server or the store). Only the packet header and the key's
 * fingerprint are parsed here; the server parses the rest.
 */
export function readPgpPublicKeys(paths: readonly string[], name: string): PgpPublicKey[] {
  const keys = paths.map((path) => readPgpPublicKey(path, name));
  const fingerprints = new Set(keys.map((key) => key.fingerprint));
  if (fingerprints.size !== keys.length)
    throw new ConfigError(`${name}: the same public key is given twice; each recovery share needs its own custodian`);
  return keys;
}

function readPgpPublicKey(path: string, name: string): PgpPublicKey {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new ConfigError(`${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const armored = ARMOR.exec(bytes.toString('latin1'));
  if (armored !== null) {
    if (armored[1] === 'PRIVATE KEY BLOCK')
      throw new ConfigError(`${name}: ${path} is a private key; give the public key only`);
    if (armored[1] !== 'PUBLIC KEY BLOCK')
      throw new ConfigError(`${name}: ${path} is not an OpenPGP public key (found ${armored[1]!.toLowerCase()})`);
    bytes = dearmor(armored[2]!);
  }
  let packet: { tag: number; body: Buffer } | undefined;
  try {
    packet = firstPacket(bytes);
  } catch {
    packet = undefined; // a length running past the end of the file
  }
  if (packet?.tag === SECRET_KEY_PACKET)
    throw new ConfigError(`${name}: ${path} is a private key; give the public key only`);
  if (packet === undefined || packet.tag !== PUBLIC_KEY_PACKET || packet.body.length < 6) {
    throw new ConfigError(`${name}: ${path} is not an OpenPGP public key`);
  }
  const version = packet.body[0];
  if (version !== 4)
    throw new ConfigError(`${name}: ${path}: OpenPGP key version ${version} is not supported (version 4 keys are)`);
  const header = Buffer.from([0x99, packet.body.length >> 8, packet.body.length & 0xff]);
  const fingerprint = createHash('sha1').update(header).update(packet.body).digest('hex');
  return { path, keyBase64: bytes.toString('base64'), fingerprint };
}

/** The base64 body of an armored block, headers and CRC line left out. */
function dearmor(text: string): Buffer {
  const lines = text.split(/\r?\n/);
  const blank = lines.findIndex((line) => line.trim() === '');
  const body = lines.slice(blank + 1).filter((line) => line.trim() !== '' && !line.startsWith('='));
  return Buffer.from(body.join(''), 'base64');
}

/** RFC 4880 §4.2 packet header, old and new formats. */
function firstPacket(bytes: Buffer): { tag: number; body: Buffer } | undefined {
  const first = bytes[0];
  if (first === undefined || (first & 0x80) === 0) return undefined;
  let tag: number;
  let length: number;
  let offset: number;
  if (first & 0x40) {
    tag = first & 0x3f;
    const octet = bytes[1] ?? 0;
    if (octet < 192) [length, offset] = [octet, 2];
    else if (octet < 224) [length, offset] = [((octet - 192) << 8) + (bytes[2] ?? 0) + 192, 3];
    else if (octet === 255) [length, offset] = [bytes.readUInt32BE(2), 6];
    else return undefined;
  } else {
    tag = (first >> 2) & 0x0f;
    const lengthType = first & 0x03;
    if (lengthType === 0) [length, offset] = [bytes[1] ?? 0, 2];
    else if (lengthType === 1) [length, offset] = [bytes.readUInt16BE(1), 3];
    else if (lengthType === 2) [length, offset] = [bytes.readUInt32BE(1), 5];
    else return undefined;
  }
  if (offset + length > bytes.length) return undefined;
  return { tag, body: bytes.subarray(offset, offset + length) };
}
