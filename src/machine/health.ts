/** What a sys/health answer means. Every code Vault or OpenBao documents is named. */
export type HealthKind =
  | 'active'
  | 'standby'
  | 'dr-secondary'
  | 'performance-standby'
  | 'standby-no-active'
  | 'uninitialized'
  | 'sealed'
  | 'removed'
  | 'unreachable'
  | 'unknown';

const BY_STATUS: Readonly<Record<number, HealthKind>> = {
  200: 'active',
  429: 'standby',
  472: 'dr-secondary',
  473: 'performance-standby',
  474: 'standby-no-active',
  501: 'uninitialized',
  503: 'sealed',
  530: 'removed',
};

/** `undefined` status means no HTTP answer at all (refused, DNS, TLS not up yet). */
export function classifyHealth(status: number | undefined): HealthKind {
  if (status === undefined) return 'unreachable';
  const known = BY_STATUS[status];
  if (known !== undefined) return known;
  if (status >= 500) return 'unreachable';
  return 'unknown';
}

/** Unsealed and serving (or forwarding) requests: configuring may proceed. */
export function isUnsealed(kind: HealthKind): boolean {
  return (
    kind === 'active' ||
    kind === 'standby' ||
    kind === 'performance-standby' ||
    kind === 'standby-no-active' ||
    kind === 'dr-secondary'
  );
}
