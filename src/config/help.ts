import { COMMANDS, ENVIRONMENT_ONLY, OPTIONS, plainText, type Command, type OptionSpec } from './options.js';

/** One line per command (SPEC §2), in --help's order. */
const COMMAND_SUMMARY: Readonly<Record<Command, string>> = {
  run: 'bring Vault to initialized, unsealed, configured, with a CI token; --once exits when ready',
  status: 'Vault health, store contents by name (never values), token validity',
  plan: 'what run would do now, changing nothing',
  seal: 'emergency brake: record a seal intent, seal every node it can reach; every sidecar keeps its node sealed',
  resume: 'end the seal intent: the sidecars unseal as usual',
  'rotate-keys': 'crash-safe rotation of the unseal or recovery keys (new split: --secret-*/--recovery-*)',
  'generate-root': 'a new root token from the stored keys, stored first',
  'cancel-stale': 'cancel a rotation or root generation in progress that no record of ours owns',
  'migrate-seal':
    'Shamir → auto-unseal (KMS) seal migration with the stored keys, crash-safe; they become the recovery keys',
  'seal-key': 'init container: the OpenBao static seal key(s) into the memory-backed --seal-key-dir',
  'rotate-seal-key': 'a new static seal key version, rolled out crash-safe',
  snapshot: 'a raft snapshot from the active node into --snapshot-to, verified, paired with its keys version',
  restore: 'an empty server brought back from the newest (or the named) verified snapshot and its keys version',
  'restore-drill':
    'the newest snapshot restored into an empty throwaway server (--vault-addr), unsealed with its keys version, checked; the store is only read',
};

const WIDTH = 100;
const INDENT = '      ';

function appliesTo(spec: OptionSpec, command: Command | undefined): boolean {
  return command === undefined || spec.commands === 'all' || spec.commands.includes(command);
}

function wrap(text: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && INDENT.length + line.length + 1 + word.length > WIDTH) {
      lines.push(INDENT + line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(INDENT + line);
  return lines;
}

function describe(flag: string, spec: Pick<OptionSpec, 'env' | 'default' | 'help'>): string[] {
  const env = spec.env.length === 0 ? 'no environment variable' : `env ${spec.env.join(', ')}`;
  const fallback = spec.default === '' ? '' : `; default ${plainText(spec.default)}`;
  return [`  ${flag}`, ...wrap(`${env}${fallback}`), ...wrap(plainText(spec.help))];
}

/**
 * `vault-bootstrap --help`: the commands and every option with its environment variables and
 * default; with a command (`vault-bootstrap rotate-keys --help`), the options of that command.
 * Generated from the option table (options.ts), like README's reference (referenceTable).
 */
export function helpText(command?: Command): string {
  const lines =
    command === undefined
      ? [
          'usage: vault-bootstrap COMMAND [options]',
          '       vault-bootstrap COMMAND --help    the options of one command',
          '',
          'commands:',
          ...COMMANDS.map((name) => `  ${name.padEnd(16)}${COMMAND_SUMMARY[name]}`),
          '',
          'options (the flag wins over its environment variables; durations are Go-style: 90s, 5m, 720h):',
        ]
      : [`usage: vault-bootstrap ${command} [options]`, '', `  ${COMMAND_SUMMARY[command]}`, '', 'options:'];
  for (const [name, spec] of Object.entries(OPTIONS) as Array<[string, OptionSpec]>) {
    if (!appliesTo(spec, command)) continue;
    const value = spec.type === 'string' ? ' VALUE' : '';
    lines.push(...describe(`--${name}${spec.short === undefined ? '' : `, -${spec.short}`}${value}`, spec));
  }
  lines.push('', 'read from the environment only:');
  for (const setting of ENVIRONMENT_ONLY) lines.push(...describe(setting.env.join(', '), setting));
  return lines.join('\n');
}

/** README's reference table (Reference → Configuration), row for row from the same table. */
export function referenceTable(): string {
  const code = (names: readonly string[]) => names.map((name) => `\`${name}\``).join(' / ') || '—';
  const rows = (Object.entries(OPTIONS) as Array<[string, OptionSpec]>).map(
    ([name, spec]) =>
      `| \`--${name}\`${spec.short === undefined ? '' : ` (\`-${spec.short}\`)`} | ${code(spec.env)} | ${spec.default || '—'} | ${spec.help} |`,
  );
  for (const setting of ENVIRONMENT_ONLY)
    rows.push(`| — | ${code(setting.env)} | ${setting.default} | ${setting.help} |`);
  return ['| flag | env | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
