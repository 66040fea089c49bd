const UNIT_MILLISECONDS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const DURATION = /^(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h)/;

/**
 * Parses a Go-style duration ("90s", "1h30m", "720h", "1.5s") into milliseconds, as
 * Vault's own flags do. Returns undefined when the text is not one; "0" is allowed bare.
 */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (text.length === 0) return undefined;
  let rest = text;
  let total = 0;
  while (rest.length > 0) {
    const match = DURATION.exec(rest);
    if (match === null) return undefined;
    const number = /^[\d.]+/.exec(match[0])![0];
    const unit = match[0].slice(number.length);
    total += Number(number) * UNIT_MILLISECONDS[unit]!;
    rest = rest.slice(match[0].length);
  }
  return Math.round(total);
}

/** Milliseconds back to a short Go-style text, for logs: 90000 → "1m30s". */
export function formatDuration(milliseconds: number): string {
  if (milliseconds < 1000) return `${milliseconds}ms`;
  let seconds = Math.round(milliseconds / 1000);
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  return `${hours ? `${hours}h` : ''}${minutes ? `${minutes}m` : ''}${seconds || (!hours && !minutes) ? `${seconds}s` : ''}`;
}
