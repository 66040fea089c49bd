#!/usr/bin/env node
import module from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The entry point, kept small so that V8's compile cache is on before the program's code is
 * compiled: the program (main.ts and the command chunks) is imported after it.
 */
enableCompileCache();
const { exitWith, main } = await import('./main.js');
exitWith(main(process.argv.slice(2)));

/**
 * Node ≥ 22.1 keeps the compiled code of the modules it loads in a cache directory and reuses
 * it on the next start (less CPU before the first request). The directory is the user's own
 * (`$XDG_CACHE_HOME` or `~/.cache`, then `vault-bootstrap/compile-cache`; NODE_COMPILE_CACHE
 * wins when set, as Node reads it itself): a directory others can write would let them hand
 * this process its code. Where it cannot be made (the image's read-only root) Node says so in
 * the status it returns and runs without it: nothing is printed and nothing else changes.
 */
function enableCompileCache(): void {
  const { enableCompileCache: enable } = module as { enableCompileCache?: (directory?: string) => unknown };
  if (typeof enable !== 'function' || process.env.NODE_COMPILE_CACHE !== undefined) return;
  enable(join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'vault-bootstrap', 'compile-cache'));
}
