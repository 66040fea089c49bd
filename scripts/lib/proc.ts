import { readFile } from 'node:fs/promises';

/**
 * What the kernel says about a running process, read from /proc (Linux): the same numbers for a
 * node process and for a Go binary, so the peer is measured exactly like vault-bootstrap.
 */

/** Clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ: 100 on every Linux ABI in use). */
const TICKS_PER_SECOND = 100;

/**
 * How long a converged process is left alone before its CPU is counted at rest. Node's V8 runs a
 * one-time heap compaction (its memory reducer: two mark-compacts, 10–25 ms of CPU here) about
 * 8–16 s after start-up's allocations stop; that is start-up's cost, not the cost of rest, and
 * in a 30 s window it outweighed all the passes together. The Go peer is left alone as long.
 */
export const SETTLE_BEFORE_IDLE_MS = 20_000;

/** Peak resident set size so far (VmHWM, KiB): the kernel's high-water mark, so a short peak is not missed. */
export async function peakRssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (match === null) throw new Error(`/proc/${pid}/status has no VmHWM line`);
  return Number(match[1]);
}

/** User + system CPU time the process has used so far, in milliseconds. */
export async function cpuTimeMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces; count fields after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const userTicks = Number(fields[11]);
  const systemTicks = Number(fields[12]);
  return ((userTicks + systemTicks) * 1000) / TICKS_PER_SECOND;
}
