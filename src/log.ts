import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Field names that could hold a secret anywhere in a log object. Secrets are Secret
 * values that print as [REDACTED] already; this list is the second belt, for a raw
 * value that slips into a log call by mistake.
 */
const REDACTED_PATHS = [
  'token', 'keys', 'key', 'root_token', 'client_token', 'keys_base64', 'recovery_keys', 'recovery_keys_base64', 'headers', 'config', 'value', 'payload',
  '*.token', '*.keys', '*.key', '*.root_token', '*.client_token', '*.keys_base64', '*.recovery_keys_base64', '*.headers', '*.config', '*.value', '*.payload',
];

export function createLogger(level: string, destination: pino.DestinationStream = pino.destination({ sync: true })): Logger {
  return pino(
    {
      level,
      base: { name: 'vault-bootstrap' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
