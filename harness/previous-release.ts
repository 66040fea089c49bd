import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const TOOLS = fileURLToPath(new URL('../.tools/', import.meta.url));

/** The last landed release's bundle, built by `scripts/install-tools.sh previous-release`. */
export const PREVIOUS_RELEASE_CLI = `${TOOLS}previous-release/dist/cli.js`;

/** Why the previous release cannot run here (install-tools wrote the error), or undefined. */
export function missingPreviousRelease(): string | undefined {
  if (existsSync(PREVIOUS_RELEASE_CLI)) return undefined;
  const error = `${TOOLS}previous-release-error`;
  return existsSync(error)
    ? `the previous release was not built: ${readFileSync(error, 'utf8').trim()}`
    : `${PREVIOUS_RELEASE_CLI} is missing: run npm run tools`;
}
