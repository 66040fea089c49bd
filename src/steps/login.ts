import { readFile } from 'node:fs/promises';
import { tokenStage } from '../machine/token-stage.js';
import { Secret } from '../secret.js';
import type { StepContext } from './context.js';

export type LoginOutcome = { kind: 'token'; token: Secret } | { kind: 'rejected'; problem: string };

/**
 * The management token in --self-init mode: a login through the auth method the server's own
 * `initialize` stanzas declare: Kubernetes auth with the pod's service account token, or AppRole
 * with a secret ID. It lives in
 * this process's memory only (never stored: every replica logs in for itself), and is reused
 * while the server accepts it with more than a third of its life left; the secret file is read
 * again at each login, since the kubelet rotates a service account token.
 */
export class LoginSession {
  #token: Secret | undefined;

  async token(context: StepContext): Promise<LoginOutcome> {
    const { vault, signal, config, log } = context;
    const login = config.selfInit;
    if (login === undefined) return { kind: 'rejected', problem: 'no login configured (--self-init)' };
    if (this.#token !== undefined) {
      if (tokenStage(await vault.lookupSelf(this.#token, { signal })) === 'valid')
        return { kind: 'token', token: this.#token };
      this.#token = undefined;
    }
    let secret: Secret;
    try {
      secret = new Secret((await readFile(login.secretFile, 'utf8')).trim());
    } catch (error) {
      return {
        kind: 'rejected',
        problem: `cannot read the login's secret file ${login.secretFile} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
      };
    }
    const answer =
      login.method === 'kubernetes'
        ? await vault.login(login.mount, { role: login.role }, { field: 'jwt', value: secret }, { signal })
        : await vault.login(login.mount, { role_id: login.role }, { field: 'secret_id', value: secret }, { signal });
    if (answer.kind === 'rejected') return answer;
    this.#token = answer.token;
    log.info(
      {
        event: 'logged-in',
        method: login.method,
        mount: login.mount,
        role: login.role,
        policies: answer.policies,
        ttlSeconds: answer.ttlSeconds,
      },
      'logged in through the auth method the server declared',
    );
    return { kind: 'token', token: answer.token };
  }
}
