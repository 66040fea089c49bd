import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BLOCKERS } from '../../src/states.js';

const README = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');

describe('README, Recovery', () => {
  it('has a row for every blocker the program can report (vault_bootstrap_blocked{reason}, /readyz)', () => {
    const table = README.slice(README.indexOf('### Recovery'), README.indexOf('#### Initialized elsewhere'));
    const rows = table.split('\n').filter((line) => line.startsWith('| '));
    const missing = BLOCKERS.filter((blocker) => !rows.some((row) => row.split(' | ')[0]!.includes(`\`${blocker}\``)));
    expect(missing).toEqual([]);
  });
});
