/** The states of SPEC §1, in the order a fresh server passes through them. */
export const STATES = ['waiting', 'uninitialized', 'initializing', 'storing', 'sealed', 'configuring', 'issuing', 'ready', 'orphaned'] as const;

export type State = (typeof STATES)[number];

/** How a run ends: reached ready (--once), stopped by a signal, orphaned, or timed out. */
export type Outcome = 'ready' | 'stopped' | 'orphaned' | 'timed-out';

export const EXIT_CODES: Readonly<Record<Outcome, number>> = { ready: 0, stopped: 0, orphaned: 3, 'timed-out': 4 };
