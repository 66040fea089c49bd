import { ConfigError } from '../errors.js';
import { readPgpPublicKeys, type PgpPublicKey } from '../pgp.js';
import type { Command } from './options.js';
import type { OptionReader } from './read.js';

/** The key splits and PGP custody (--secret-*, --recovery-*), checked against each other. */
export interface SplitSettings {
  secretShares: number;
  secretThreshold: number;
  recoveryShares: number;
  recoveryThreshold: number;
  splitGiven: { readonly secret: boolean; readonly recovery: boolean };
  recoveryPgpKeys: readonly PgpPublicKey[] | undefined;
}

export function parseSplits(read: OptionReader, command: Command): SplitSettings {
  const secretShares = read.integer('secret-shares', 5, 1, 255);
  const secretThreshold = read.integer('secret-threshold', 3, 1, 255);
  checkSplit(
    '--secret-shares/VB_SECRET_SHARES',
    secretShares,
    '--secret-threshold/VB_SECRET_THRESHOLD',
    secretThreshold,
  );
  const pgpSetting = read.text('recovery-pgp-keys');
  const recoveryPgpKeys =
    pgpSetting.value === undefined ? undefined : parsePgpKeys(pgpSetting.value, pgpSetting.name, command);
  const splitGiven = {
    secret: read.text('secret-shares').value !== undefined || read.text('secret-threshold').value !== undefined,
    recovery: read.text('recovery-shares').value !== undefined || read.text('recovery-threshold').value !== undefined,
  };
  // With custodians, one share per public key unless told otherwise.
  const custodians = recoveryPgpKeys?.length;
  const recoveryShares = read.integer('recovery-shares', custodians ?? 5, 1, 255);
  const recoveryThreshold = read.integer('recovery-threshold', Math.min(3, custodians ?? 5), 1, 255);
  if (custodians !== undefined && recoveryShares !== custodians) {
    throw new ConfigError(
      `${pgpSetting.name}: ${custodians} public key(s) for ${recoveryShares} recovery shares (--recovery-shares/VB_RECOVERY_SHARES); give one key per share`,
    );
  }
  checkSplit(
    '--recovery-shares/VB_RECOVERY_SHARES',
    recoveryShares,
    '--recovery-threshold/VB_RECOVERY_THRESHOLD',
    recoveryThreshold,
  );
  return { secretShares, secretThreshold, recoveryShares, recoveryThreshold, splitGiven, recoveryPgpKeys };
}

/** A comma-separated list of public key files, each checked now (not at init time). */
function parsePgpKeys(text: string, name: string, command: Command): PgpPublicKey[] {
  if (command !== 'run' && command !== 'plan' && command !== 'rotate-keys')
    throw new ConfigError(`${name}: only valid with the run, plan and rotate-keys commands`);
  const paths = text.split(',').map((path) => path.trim());
  if (paths.some((path) => path === ''))
    throw new ConfigError(`${name}: expected FILE,FILE,… of OpenPGP public keys, got an empty entry`);
  return readPgpPublicKeys(paths, name);
}

function checkSplit(sharesName: string, shares: number, thresholdName: string, threshold: number): void {
  if (threshold > shares) throw new ConfigError(`${thresholdName}: ${threshold} is above ${sharesName} ${shares}`);
  if (shares > 1 && threshold < 2)
    throw new ConfigError(`${thresholdName}: must be at least 2 when ${sharesName} is above 1`);
}
