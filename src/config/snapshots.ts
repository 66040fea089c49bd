import { parseDuration } from '../duration.js';
import { ConfigError } from '../errors.js';
import { parseSnapshotTarget } from '../snapshots/target.js';
import type { SnapshotTarget } from '../snapshots/types.js';
import type { Command } from './options.js';
import type { Environment, Given, OptionReader } from './read.js';

/** The snapshot settings (SPEC §12), checked at start-up. */
export interface SnapshotConfig {
  readonly target: SnapshotTarget;
  /** run: the active node's sidecar takes one this often; undefined: the sidecar takes none. */
  readonly intervalMs: number | undefined;
  /** Retention keeps this many (the newest verified one always). */
  readonly retain: number;
  /** Retention also removes those older than this (never the newest); undefined: no age limit. */
  readonly maxAgeMs: number | undefined;
}

export const DEFAULT_SNAPSHOT_RETAIN = 30;

/** --snapshot-to and its companions → SnapshotConfig (undefined without --snapshot-to), or one ConfigError line. */
export function parseSnapshots(read: OptionReader, command: Command, env: Environment): SnapshotConfig | undefined {
  const to = read.text('snapshot-to');
  const retain = read.text('snapshot-retain');
  const maxAge = read.text('snapshot-max-age');
  const kmsKey = read.text('snapshot-kms-key');
  const interval = read.text('snapshot-interval');
  if (to.value === undefined) {
    const stray = [interval, retain, maxAge, kmsKey].find((each) => each.value !== undefined);
    if (stray) throw new ConfigError(`${stray.name}: only valid with --snapshot-to/VB_SNAPSHOT_TO`);
    if (SNAPSHOT_COMMANDS.includes(command))
      throw new ConfigError(
        `${to.name}: required by ${command} (s3://bucket/prefix, gs://bucket/prefix or file:///dir)`,
      );
    return undefined;
  }
  const target = parseSnapshotTarget(to.value, to.name, {
    insideKubernetes: Boolean(env.KUBERNETES_SERVICE_HOST),
    allowFile: read.boolean('allow-file-store'),
    kmsKey: kmsKey.value,
  });
  const durationOf = (setting: Given, minimumMs: number): number | undefined => {
    if (setting.value === undefined) return undefined;
    const milliseconds = parseDuration(setting.value);
    if (milliseconds === undefined)
      throw new ConfigError(
        `${setting.name}: expected a duration such as 1h or 720h, got ${JSON.stringify(setting.value)}`,
      );
    if (milliseconds < minimumMs)
      throw new ConfigError(
        `${setting.name}: must be at least ${minimumMs / 1000}s, got ${JSON.stringify(setting.value)}`,
      );
    return milliseconds;
  };
  const intervalMs = command === 'run' ? durationOf(interval, 1_000) : undefined;
  return Object.freeze({
    target: Object.freeze(target),
    intervalMs,
    retain: read.integer('snapshot-retain', DEFAULT_SNAPSHOT_RETAIN, 1, 10_000),
    maxAgeMs: durationOf(maxAge, 60_000),
  });
}

/** The commands that need --snapshot-to. */
const SNAPSHOT_COMMANDS: readonly Command[] = ['snapshot', 'restore', 'restore-drill'];
