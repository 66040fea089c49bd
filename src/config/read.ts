import { formatDuration, parseDuration } from '../duration.js';
import { ConfigError } from '../errors.js';
import { OPTIONS, plainText, type Flags, type OptionName } from './options.js';

export type Environment = Readonly<Record<string, string | undefined>>;

/** One option's text as given, and the name to blame in an error (the flag, or the variable that set it). */
export interface Given {
  value: string | undefined;
  name: string;
}

/**
 * Reads options from the flags, then their environment variables (OPTIONS says which), typed
 * and range-checked; every error names the flag or variable and what is expected.
 */
export class OptionReader {
  readonly #flags: Flags;
  readonly #env: Environment;

  constructor(flags: Flags, env: Environment) {
    this.#flags = flags;
    this.#env = env;
  }

  /** The text of a string option, undefined when not given. */
  text(option: OptionName): Given {
    const envNames: readonly string[] = OPTIONS[option].env;
    const fromFlag = this.#flags[option];
    if (typeof fromFlag === 'string') return { value: fromFlag, name: `--${option}` };
    for (const envName of envNames) {
      const fromEnv = this.#env[envName];
      if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, name: envName };
    }
    return { value: undefined, name: [`--${option}`, ...envNames].join('/') };
  }

  /** A boolean option: the flag, or its variable read as Go's strconv.ParseBool reads it. */
  boolean(option: OptionName): boolean {
    if (this.#flags[option] === true) return true;
    const envName: string | undefined = OPTIONS[option].env[0];
    const text = envName === undefined ? undefined : this.#env[envName];
    return text === undefined || text === '' ? false : parseBoolean(text, envName!);
  }

  integer(option: OptionName, fallback: number, min: number, max: number): number {
    const { value, name } = this.text(option);
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new ConfigError(`${name}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
    return Number(value);
  }

  /** A Go-style duration in milliseconds; the default is the table's. `why` says why the minimum. */
  duration(option: OptionName, minimumMs: number, why?: string): number {
    const { value, name } = this.text(option);
    const milliseconds = parseDuration(value ?? plainText(OPTIONS[option].default));
    if (milliseconds === undefined) {
      throw new ConfigError(`${name}: expected a duration such as 90s, 5m or 720h, got ${JSON.stringify(value)}`);
    }
    if (milliseconds < minimumMs) {
      throw new ConfigError(
        `${name}: must be at least ${why === undefined ? `${minimumMs}ms` : `${formatDuration(minimumMs)} (${why})`}, got ${JSON.stringify(value)}`,
      );
    }
    return milliseconds;
  }
}

/** Accepts what Go's strconv.ParseBool accepts, as Vault's own variables do. */
export function parseBoolean(text: string, name: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return false;
  throw new ConfigError(`${name}: expected true or false, got ${JSON.stringify(text)}`);
}
