import { afterAll, describe, expect, it } from 'vitest';
import { formatCells, runCell, summarize, type Cell, type CellResult } from '../../harness/chaos/network.js';
import { useChaosStore } from '../chaos/suite.js';

/**
 * CI's shortened form of the network-fault matrix of `npm run chaos` (scenario 8): one cell per
 * fault, each at a different phase and both dependencies covered, so every fault and every
 * phase is run on every change.
 */
const CELLS: Cell[] = [
  { dependency: 'store', phase: 'start-up', fault: 'black-hole' },
  { dependency: 'vault', phase: 'init-in-flight', fault: 'refuse' },
  { dependency: 'store', phase: 'storing', fault: 'reset' },
  { dependency: 'vault', phase: 'unsealing', fault: 'trickle' },
  { dependency: 'store', phase: 'ready', fault: 'latency' },
];

describe('fault injection (shortened), network faults: deadlines, truthful probes, no key lost', () => {
  const { store, expectHeld } = useChaosStore();
  const results: CellResult[] = [];

  for (const cell of CELLS) {
    it(`${cell.dependency}, ${cell.phase}, ${cell.fault}`, async () => {
      const result = await runCell(store(), cell);
      results.push(result);
      expect(result.faulted, result.notes.join('; ')).toBe(true);
      expect(result.probeLies).toEqual([]);
      expect(result.sigtermMs, result.notes.join('; ')).toBeLessThan(5_500);
      expect(result.onceMs, result.notes.join('; ')).toBeLessThanOrEqual(result.onceBoundMs);
      expectHeld(summarize([result]));
    }, 120_000);
  }

  // The matrix as a table, once every cell ran: a report, not a test (it asserts nothing).
  afterAll(() => {
    console.log(formatCells(results));
  });
});
