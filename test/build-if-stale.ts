import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The newest modification time under a directory (its files, recursively). */
function newest(directory: string): number {
  let latest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/**
 * vitest globalSetup: the integration tests run dist/cli.js, so a src/ edited since the last build
 * would be tested as it was. Build first when any file of src/ (or of scripts/bundle/, which the
 * bundle takes in) is newer than dist/cli.js, or dist/ is missing.
 */
export default function setup(): void {
  let built = 0;
  try {
    built = statSync(join(ROOT, 'dist', 'cli.js')).mtimeMs;
  } catch {
    // not built yet
  }
  if (Math.max(newest(join(ROOT, 'src')), newest(join(ROOT, 'scripts', 'bundle'))) <= built) return;
  console.warn('src/ is newer than dist/cli.js: running npm run build first');
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
}
