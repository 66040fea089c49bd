import { rm } from 'node:fs/promises';
import { OpenBao, type OpenBaoOptions } from '../../harness/openbao.js';
import { deferCleanup, stopIfInterrupted } from './cleanup.js';

/**
 * A throwaway OpenBao (raft in a temp dir, loopback ports) that is stopped and whose directory
 * is removed at cleanup, even when the cleanup comes while it is starting.
 */
export class ThrowawayOpenBao {
  readonly server: OpenBao;
  #starting: Promise<void> = Promise.resolve();
  readonly #forgetCleanup: () => void;

  private constructor(server: OpenBao) {
    this.server = server;
    this.#forgetCleanup = deferCleanup(() => this.#remove());
  }

  static async start(options: OpenBaoOptions = {}): Promise<ThrowawayOpenBao> {
    const openBao = new ThrowawayOpenBao(await OpenBao.create(options));
    await openBao.#whileStarting(openBao.server.start());
    return openBao;
  }

  get address(): string {
    return this.server.address;
  }

  get directory(): string {
    return this.server.directory;
  }

  /** Stops and starts on the same data: it comes back sealed, as a restarted pod does. */
  async restart(): Promise<void> {
    await this.#whileStarting(this.server.restart());
  }

  /** Stops the server and removes its directory now rather than at the script's end. */
  async dispose(): Promise<void> {
    this.#forgetCleanup();
    await this.#remove();
  }

  async #remove(): Promise<void> {
    await this.#starting.catch(() => undefined);
    await this.server.stop();
    await rm(this.server.directory, { recursive: true, force: true });
  }

  async #whileStarting(starting: Promise<void>): Promise<void> {
    this.#starting = starting;
    await starting;
    await stopIfInterrupted();
  }
}
