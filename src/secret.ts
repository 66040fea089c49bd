import { inspect } from 'node:util';

const REDACTED = '[REDACTED]';

/**
 * A key or token. It cannot print itself: string conversion, JSON and util.inspect all
 * give "[REDACTED]". The value comes out only through reveal(), at the HTTP call or the
 * store write that needs it.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  equals(other: Secret): boolean {
    return this.#value === other.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
