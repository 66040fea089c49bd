/**
 * The downgrade guard (SPEC §12): the highest server version seen active on a cluster is
 * recorded with its keys (`highestServer` in `{prefix}-unseal-keys`), and a server older than
 * that is not unsealed, configured, migrated or rotated by us: storage a newer release has
 * written (its upgrades run when a node becomes active) is not safe in an older one. Pure.
 */
import type { ServerKind } from './servers.js';

/** A server release: which product and its version as sys/health reports it (`2.7.2`, `1.19.0`). */
export interface ServerRelease {
  kind: ServerKind;
  version: string;
}

/** What the keys record holds: the highest release seen active on the cluster, and when it was first seen. */
export interface HighestServer extends ServerRelease {
  seenAt: string;
}

interface ParsedVersion {
  numbers: [number, number, number];
  /** A pre-release (`2.7.0-beta1`): older than the release of the same numbers. */
  preRelease: string | undefined;
}

const VERSION = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

function parseVersion(version: string): ParsedVersion | undefined {
  const match = VERSION.exec(version.trim());
  if (!match) return undefined;
  return {
    numbers: [Number(match[1]), Number(match[2]), Number(match[3])],
    preRelease: match[4],
  };
}

/** Negative when a is older than b, positive when newer, 0 when the same; undefined when either does not parse. */
export function compareVersions(a: string, b: string): number | undefined {
  const left = parseVersion(a);
  const right = parseVersion(b);
  if (left === undefined || right === undefined) return undefined;
  for (let index = 0; index < 3; index += 1) {
    const difference = left.numbers[index]! - right.numbers[index]!;
    if (difference !== 0) return difference;
  }
  if (left.preRelease === right.preRelease) return 0;
  if (left.preRelease === undefined) return 1;
  if (right.preRelease === undefined) return -1;
  return left.preRelease < right.preRelease ? -1 : 1;
}

/**
 * Why acting on `server` would be a downgrade of the cluster's data, or undefined. Releases of
 * different products are not compared (a Vault → OpenBao move is a migration of its own, not
 * this guard's), and neither is a version that does not parse.
 */
export function downgradeOf(
  server: Partial<ServerRelease>,
  highest: ServerRelease | undefined,
  recordName: string,
): string | undefined {
  if (highest === undefined || server.version === undefined || server.kind !== highest.kind) return undefined;
  const order = compareVersions(server.version, highest.version);
  if (order === undefined || order >= 0) return undefined;
  return (
    `this server runs ${nameOf(highest.kind)} ${server.version}, older than ${highest.version}, which ${recordName} records as active on this cluster: ` +
    `its storage may hold data the newer release wrote, which an older one must not open; run ${highest.version} or newer (the image tag), ` +
    `or go back through a snapshot taken before the upgrade (README: recovery)`
  );
}

/** Whether `server` is a newer release than the recorded one (or the first recorded): the record is raised then. */
export function raisesHighest(server: Partial<ServerRelease>, highest: ServerRelease | undefined): boolean {
  if (server.version === undefined || server.kind === undefined || parseVersion(server.version) === undefined)
    return false;
  if (highest === undefined || highest.kind !== server.kind) return true;
  return (compareVersions(server.version, highest.version) ?? 0) > 0;
}

function nameOf(kind: ServerKind): string {
  return kind === 'vault' ? 'Vault' : 'OpenBao';
}
