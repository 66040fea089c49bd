import { checkpoint } from '../checkpoints.js';
import { BootstrapError, ConfigError } from '../errors.js';
import type { Secret } from '../secret.js';
import { act } from '../machine/act.js';
import {
  decide,
  decideSettings,
  describeAction,
  EMPTY_MEMORY,
  learn,
  remember,
  type Action,
  type DecideSettings,
} from '../machine/decide.js';
import { observe } from '../machine/observe.js';
import { sleep } from '../wait.js';
import type { StepContext } from '../steps/context.js';
import { refuseDowngrade } from '../steps/server-version.js';
import { retryUntilStored } from '../steps/store-secrets.js';
import type { RootToken } from '../store/records.js';
import { decodeGeneratedRootToken, GenerateRootApi, type GenerateRootStatus } from '../vault/rotation.js';
import { serverKindOf } from '../vault/servers.js';
import { MANAGEMENT_POLICY } from '../steps/configure.js';

export interface GenerateRootResult {
  resumed: boolean;
  revoked: boolean;
  provisionerTokenIssued: boolean;
}

/** Resume only the attempt whose nonce and one-time pad the store holds; anything else is cancelled. */
export function decideGeneration(
  stored: RootToken | undefined,
  server: GenerateRootStatus,
): { kind: 'resume' } | { kind: 'start'; cancelFirst: boolean } {
  if (stored?.generation && server.started && server.nonce === stored.generation.nonce) return { kind: 'resume' };
  return { kind: 'start', cancelFirst: server.started };
}

/**
 * generate-root: a root token from the stored keys (OTP flow), for when the root token was
 * revoked and the provisioner token has lapsed. The one-time pad and nonce are stored (a new
 * version of the root-token secret, the previous token kept in it) before any key share is
 * submitted, and the token is stored as soon as the server hands it out. Then configuring
 * runs with it, the sidecar's management token and a provisioner token are issued if
 * needed, and --revoke-after revokes it.
 */
export async function generateRoot(context: StepContext): Promise<GenerateRootResult> {
  const { vault, records, log, config, signal } = context;
  const seal = await vault.sealStatus({ signal });
  if (!seal.initialized || seal.sealed)
    throw new BootstrapError(
      seal.initialized ? 'VAULT_SEALED' : 'VAULT_NOT_INITIALIZED',
      'generate-root: the server must be initialized and unsealed (vault-bootstrap run)',
    );
  const keys = await records.readUnsealKeys();
  if (keys === undefined)
    throw new BootstrapError('STORE_NOT_FOUND', `generate-root: ${records.names.unsealKeys} holds no keys`);
  if (keys.encrypted) {
    throw new ConfigError(
      `${records.names.unsealKeys}: the stored recovery shares are PGP-encrypted; the custodians generate a root token with their decrypted shares (bao operator generate-root)`,
    );
  }
  await refuseDowngrade(context, 'generate-root', keys.highestServer);
  // OpenBao >= 2.6 offers an authenticated route: taken with the stored management token when
  // the server takes it; otherwise the unauthenticated one (Vault; OpenBao's break-glass).
  const api = new GenerateRootApi(vault.client, await authenticatedRouteToken(context));
  log.info({ event: 'generate-root-route', path: api.path }, 'generating a root token');
  const status = await api.status();
  const stored = await records.readRootToken();
  const action = decideGeneration(stored, status);
  let progress = 0;
  let generation = stored?.generation;
  if (action.kind === 'resume') {
    log.info(
      { event: 'root-generation-resumed', progress: status.progress },
      'resuming the stored generate-root attempt',
    );
    progress = status.progress;
  } else {
    if (action.cancelFirst) {
      log.warn(
        { event: 'root-generation-cancelled' },
        'cancelling the generate-root attempt in progress: its one-time pad was never stored (a run died first, or another client started it)',
      );
      await api.cancel();
    }
    const started = await api.start();
    checkpoint('root-generation-started');
    generation = { nonce: started.nonce, otp: started.otp, startedAt: new Date().toISOString() };
    const withGeneration: RootToken = {
      token: stored?.token ?? null,
      createdAt: stored?.createdAt ?? generation.startedAt,
      ...(stored?.revokedAt ? { revokedAt: stored.revokedAt } : {}),
      generation,
    };
    await records.writeRootToken(withGeneration);
    checkpoint('root-generation-stored');
    log.info(
      { event: 'root-generation-started', secret: records.names.rootToken },
      'generate-root attempt started; its nonce and one-time pad are stored',
    );
  }
  const attempt = generation!;

  const token = await context.secretsInFlight.hold(async () => {
    let encoded: Secret | undefined;
    for (const key of keys.keys.slice(progress)) {
      const answer = await api.update(key, attempt.nonce);
      if (answer.complete) {
        encoded = answer.encodedToken;
        break;
      }
    }
    if (encoded === undefined) {
      throw new BootstrapError(
        'GENERATE_ROOT_FAILED',
        'generate-root: every stored key was submitted and the attempt did not complete',
      );
    }
    checkpoint('root-token-generated');
    const generated = decodeGeneratedRootToken(encoded, attempt.otp);
    const createdAt = new Date();
    // Without --revoke-after the person wants a usable token: a sidecar with --root-token revoke keeps it for ROOT_TOKEN_KEPT_MS.
    const keepUntil = config.revokeAfter
      ? {}
      : { keepUntil: new Date(createdAt.getTime() + ROOT_TOKEN_KEPT_MS).toISOString() };
    await retryUntilStored(context, 'store-root-token', 'storing the generated root token failed; retrying', () =>
      records.writeRootToken({ token: generated, createdAt: createdAt.toISOString(), ...keepUntil }),
    );
    checkpoint('root-token-stored');
    return generated;
  });
  const info = await vault.lookupSelf(token, { signal });
  if (!info?.policies.includes('root'))
    throw new BootstrapError(
      'GENERATE_ROOT_FAILED',
      'generate-root: the server does not take the generated token as a root token',
    );
  log.info({ event: 'root-token-generated', secret: records.names.rootToken }, 'root token generated and stored');

  // Configuring, the tokens and --revoke-after are the loop's own rules: decide() chooses, act() does.
  // Without --revoke-after the token stays usable, whatever --root-token the environment sets (the sidecar's is revoke).
  const done = await converge(context, {
    ...decideSettings(config, records.names),
    rootToken: config.revokeAfter ? 'revoke' : 'store',
  });
  return {
    resumed: action.kind === 'resume',
    revoked: done.includes('revoke-root'),
    provisionerTokenIssued: done.includes('issue-token'),
  };
}

/** The management token, when the server is OpenBao and takes it: the key to sys/generate-root-token. */
async function authenticatedRouteToken(context: StepContext): Promise<Secret | undefined> {
  const { vault, records, signal } = context;
  if (serverKindOf((await vault.health({ signal })).body) !== 'openbao') return undefined;
  const stored = await records.inspectManagementToken();
  if (stored.kind !== 'valid') return undefined;
  const info = await vault.lookupSelf(stored.value.token, { signal });
  return info?.policies.includes(MANAGEMENT_POLICY) ? stored.value.token : undefined;
}

/** How long a root token generated without --revoke-after stays usable beside sidecars with --root-token revoke. */
export const ROOT_TOKEN_KEPT_MS = 60 * 60 * 1000;

/** Passes enough for every write a converged cluster can need (configure, two tokens, revoke, record the cluster id) and a spare. */
const CONVERGE_PASSES = 8;
/** A node just unsealed may still be taking over as active: how long to look again for that. */
const SETTLE_MS = 15_000;

/**
 * The sidecar's observe → decide → act, run until decide() says done. A hold ends it, and so
 * does a wait that outlasts SETTLE_MS (a standby waits for the active node's sidecar): the
 * reason says what is missing. Returns the kinds of the actions taken, in order.
 */
async function converge(context: StepContext, settings: DecideSettings): Promise<Array<Action['kind']>> {
  const { config, log } = context;
  const done: Array<Action['kind']> = [];
  let memory = EMPTY_MEMORY;
  const settleBy = Date.now() + SETTLE_MS;
  for (let pass = 0; pass < CONVERGE_PASSES;) {
    const seen = await observe(context, config.policies, memory);
    memory = remember(memory, seen);
    const decision = decide(seen, memory, settings);
    const { action } = decision;
    if (action.kind === 'done') return done;
    if (action.kind === 'wait' && Date.now() < settleBy) {
      await sleep(250, context.signal);
      continue;
    }
    if (action.kind === 'hold' || action.kind === 'wait') {
      throw new BootstrapError(
        'GENERATE_ROOT_FAILED',
        `generate-root: the root token is stored, but configuring stopped: ${decision.reason}`,
      );
    }
    log.info({ event: 'act', action: action.kind, detail: describeAction(action, context.records.names) }, 'act');
    memory = learn(memory, (await act(context, action, seen, config.policies, () => undefined)).outcome, seen.at);
    done.push(action.kind);
    pass += 1;
  }
  throw new BootstrapError(
    'GENERATE_ROOT_FAILED',
    `generate-root: the root token is stored, but configuring did not settle within ${CONVERGE_PASSES} passes (${done.join(', ')})`,
  );
}
