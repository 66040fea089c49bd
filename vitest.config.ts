import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60000,
    hookTimeout: 120000,
    pool: 'forks',
    // The suites mostly wait on real servers (sys/init, raft elections, timeouts), not on CPU.
    maxWorkers: 4,
    minWorkers: 1,
  },
});
