import { afterAll, beforeAll, expect } from 'vitest';
import { ChaosStore } from '../../harness/chaos/harness.js';
import { formatTable, type ScenarioResult } from '../../harness/chaos/scenarios.js';

/**
 * What each shortened chaos suite in CI shares: one moto for its scenarios, the table
 * printed at the end, and the invariants every scenario must hold.
 */
export function useChaosStore(): {
  store(): ChaosStore;
  expectHeld(result: ScenarioResult, expectedConverged?: number): void;
} {
  let store: ChaosStore | undefined;
  const results: ScenarioResult[] = [];
  const endpointBefore = process.env.AWS_ENDPOINT_URL;

  beforeAll(async () => {
    store = await ChaosStore.start();
  });

  afterAll(async () => {
    await store?.stop();
    // The harness points this process's SDK at moto only while the suite runs.
    expect(process.env.AWS_ENDPOINT_URL).toBe(endpointBefore);
    console.log(formatTable(results));
  });

  return {
    store: () => store!,
    expectHeld: (result, expectedConverged = result.runs) => {
      results.push(result);
      expect(result.doubleInits, result.notes.join('; ')).toBe(0);
      expect(result.keysLost, result.notes.join('; ')).toBe(0);
      expect(result.converged, result.notes.join('; ')).toBe(expectedConverged);
    },
  };
}
