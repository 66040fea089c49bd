import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Field names that could hold a secret anywhere in a log object. Secrets are Secret
 * values that print as [REDACTED] already; this list is the second belt, for a raw
 * value that slips into a log call by mistake.
 */
const REDACTED_PATHS = [
  'token',
  'keys',
  'key',
  'root_token',
  'client_token',
  'keys_base64',
  'recovery_keys',
  'recovery_keys_base64',
  'headers',
  'config',
  'value',
  'payload',
  '*.token',
  '*.keys',
  '*.key',
  '*.root_token',
  '*.client_token',
  '*.keys_base64',
  '*.recovery_keys_base64',
  '*.headers',
  '*.config',
  '*.value',
  '*.payload',
];

/**
 * `onRecord` sees the fields of every record written at or above `level`, children's included
 * (the Kubernetes Events, src/kube/events.ts, are made from some of them). It must not throw.
 */
export function createLogger(
  level: string,
  destination: pino.DestinationStream = pino.destination({ sync: true }),
  onRecord?: (fields: Readonly<Record<string, unknown>>) => void,
): Logger {
  return pino(
    {
      level,
      ...(onRecord === undefined
        ? {}
        : {
            hooks: {
              logMethod(this: Logger, args: Parameters<pino.LogFn>, method: pino.LogFn) {
                const fields = args[0];
                if (typeof fields === 'object' && fields !== null && !(fields instanceof Error))
                  onRecord(fields as Record<string, unknown>);
                return method.apply(this, args);
              },
            },
          }),
      base: { name: 'vault-bootstrap' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
