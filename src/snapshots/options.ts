import { parseDuration } from '../duration.js';
import { ConfigError } from '../errors.js';
import { parseSnapshotTarget } from './target.js';
import type { SnapshotTarget } from './types.js';

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

type Setting = { value: string | undefined; name: string };

/** --snapshot-to and its companions → SnapshotConfig (undefined without --snapshot-to), or one ConfigError line. */
export function parseSnapshotOptions(
  settings: { to: Setting; interval: Setting; retain: Setting; maxAge: Setting; kmsKey: Setting },
  context: { command: string; insideKubernetes: boolean; allowFile: boolean },
): SnapshotConfig | undefined {
  const { to, interval, retain, maxAge, kmsKey } = settings;
  if (to.value === undefined) {
    const stray = [interval, retain, maxAge, kmsKey].find((each) => each.value !== undefined);
    if (stray) throw new ConfigError(`${stray.name}: only valid with --snapshot-to/VB_SNAPSHOT_TO`);
    if (context.command === 'snapshot') throw new ConfigError(`${to.name}: required by ${context.command} (s3://bucket/prefix, gs://bucket/prefix or file:///dir)`);
    return undefined;
  }
  const target = parseSnapshotTarget(to.value, to.name, { insideKubernetes: context.insideKubernetes, allowFile: context.allowFile, kmsKey: kmsKey.value });
  const durationOf = (setting: Setting, minimumMs: number): number | undefined => {
    if (setting.value === undefined) return undefined;
    const milliseconds = parseDuration(setting.value);
    if (milliseconds === undefined) throw new ConfigError(`${setting.name}: expected a duration such as 1h or 720h, got ${JSON.stringify(setting.value)}`);
    if (milliseconds < minimumMs) throw new ConfigError(`${setting.name}: must be at least ${minimumMs / 1000}s, got ${JSON.stringify(setting.value)}`);
    return milliseconds;
  };
  if (retain.value !== undefined && (!/^\d+$/.test(retain.value) || Number(retain.value) < 1 || Number(retain.value) > 10_000)) {
    throw new ConfigError(`${retain.name}: expected a whole number from 1 to 10000, got ${JSON.stringify(retain.value)}`);
  }
  const intervalMs = durationOf(interval, 60_000);
  if (intervalMs !== undefined && context.command !== 'run') throw new ConfigError(`${interval.name}: only valid with the run command (the sidecar's periodic snapshots)`);
  return Object.freeze({ target: Object.freeze(target), intervalMs, retain: retain.value === undefined ? DEFAULT_SNAPSHOT_RETAIN : Number(retain.value), maxAgeMs: durationOf(maxAge, 60_000) });
}
