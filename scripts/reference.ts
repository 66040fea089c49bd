// Writes README's option reference (Reference → Configuration) from the option table
// (src/config/options.ts), the same table --help prints. test/unit/help.test.ts fails until it
// has been run after a change to the table: `npx tsx scripts/reference.ts`.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { referenceTable } from '../src/config/help.js';

const README = fileURLToPath(new URL('../README.md', import.meta.url));
const HEADER = '| flag | env | default | meaning |';

const lines = readFileSync(README, 'utf8').split('\n');
const start = lines.indexOf(HEADER);
if (start < 0) throw new Error(`README.md: no table starting with ${HEADER}`);
let end = start;
while (lines[end]?.startsWith('|')) end += 1;
lines.splice(start, end - start, ...referenceTable().split('\n'));
writeFileSync(README, lines.join('\n'));
