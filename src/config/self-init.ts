import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { SELF_INIT_COMMANDS, type Command } from './options.js';
import type { OptionReader } from './read.js';
import { SERVICE_ACCOUNT_TOKEN_FILE, type SelfInitLogin } from './settings.js';

// Segments never `.` or `..`: the mount is part of a request path.
const MOUNT_PATH = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;
const ROLE_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** --self-init and its login: checked now, the token file included (the command would fail at its first login otherwise). */
export function parseSelfInit(read: OptionReader, command: Command): SelfInitLogin | undefined {
  const methodSetting = read.text('login-method');
  const mount = read.text('login-mount');
  const role = read.text('login-role');
  const secretFile = read.text('login-secret-file');
  if (!read.boolean('self-init')) {
    const stray = [methodSetting, mount, role, secretFile].find((each) => each.value !== undefined);
    if (stray) throw new ConfigError(`${stray.name}: only valid with --self-init/VB_SELF_INIT`);
    return undefined;
  }
  if (!SELF_INIT_COMMANDS.includes(command)) {
    throw new ConfigError(
      `--self-init/VB_SELF_INIT: not valid with ${command} (a self-initialized server returned no keys and no root token to work with)`,
    );
  }
  const method = methodSetting.value ?? 'kubernetes';
  if (method !== 'kubernetes' && method !== 'approle')
    throw new ConfigError(`${methodSetting.name}: expected "kubernetes" or "approle", got ${JSON.stringify(method)}`);
  if (method === 'approle' && secretFile.value === undefined)
    throw new ConfigError(
      `${secretFile.name}: required with --login-method approle (the file holding the AppRole secret ID)`,
    );
  const login: SelfInitLogin = {
    method,
    mount: mount.value ?? method,
    role: role.value ?? 'vault-bootstrap',
    secretFile: secretFile.value ?? SERVICE_ACCOUNT_TOKEN_FILE,
  };
  if (!MOUNT_PATH.test(login.mount))
    throw new ConfigError(
      `${mount.name}: expected an auth mount path such as kubernetes, got ${JSON.stringify(login.mount)}`,
    );
  if (!ROLE_NAME.test(login.role))
    throw new ConfigError(
      `${role.name}: expected a role name (letters, digits, "_", "-", "."), got ${JSON.stringify(login.role)}`,
    );
  try {
    readFileSync(login.secretFile);
  } catch (error) {
    throw new ConfigError(
      `${secretFile.name}: cannot read the login's secret file ${JSON.stringify(login.secretFile)} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
  return Object.freeze(login);
}
