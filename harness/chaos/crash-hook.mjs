// Fault injection, test-only: preloaded with `node --import <this file> dist/cli.js …` by the
// chaos harness. It is not part of the package or the image, so production cannot load it.
// It records every checkpoint the program passes (VB_TEST_TRACE_FILE) and SIGKILLs the
// process at the one named in VB_TEST_CRASH_AT, on the production code path.
import { subscribe } from 'node:diagnostics_channel';
import { appendFileSync } from 'node:fs';

const crashAt = process.env.VB_TEST_CRASH_AT;
const traceFile = process.env.VB_TEST_TRACE_FILE;

subscribe('vault-bootstrap:checkpoint', (message) => {
  const { name } = message;
  if (traceFile) appendFileSync(traceFile, `${name}\n`);
  if (name === crashAt) process.kill(process.pid, 'SIGKILL');
});
