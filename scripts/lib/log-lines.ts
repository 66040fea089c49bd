/**
 * One pino line → one readable line. Only `msg` (and for transitions `from`, `to`, `reason`)
 * is shown: other fields are not needed to follow along, and showing none of them means a
 * field added later cannot leak into the output. Non-JSON lines are the CLI's one-line errors.
 */
export function readableLogLine(line: string): string {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof entry !== 'object' || entry === null) return line;
  const { msg, from, to, reason } = entry as Record<string, unknown>;
  return msg === 'state' ? `${String(from)} → ${String(to)}  (${String(reason)})` : String(msg);
}
