/**
 * Polls `check` until it returns a value other than undefined, or fails naming `what` after
 * `timeoutMs`, with the last error `check` threw and what `explain` adds (e.g. a cluster's state).
 */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  everyMs = 100,
  explain?: () => Promise<string>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      const cause = last === undefined ? '' : ` (last error: ${String(last)})`;
      throw new Error(`${what}: not within ${timeoutMs} ms${cause}${explain ? `\n${await explain()}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
