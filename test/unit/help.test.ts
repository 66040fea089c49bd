// --help, COMMAND --help and README's reference are written from one option table
// (src/config/options.ts), the one the parser reads (SPEC §2).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HelpRequested, loadConfig } from '../../src/config/index.js';
import { referenceTable } from '../../src/config/help.js';
import { COMMANDS, ENVIRONMENT_ONLY, OPTIONS, plainText, type OptionSpec } from '../../src/config/options.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

function helpFor(argv: string[]): string {
  try {
    loadConfig(argv, {});
  } catch (error) {
    if (error instanceof HelpRequested) return error.message;
    throw error;
  }
  throw new Error(`${argv.join(' ')}: no help`);
}

/** The README table under Reference → Configuration, as it stands. */
function readmeTable(): string {
  const lines = README.split('\n');
  const start = lines.indexOf('| flag | env | default | meaning |');
  let end = start;
  while (lines[end]?.startsWith('|')) end += 1;
  return lines.slice(start, end).join('\n');
}

const options = Object.entries(OPTIONS) as Array<[string, OptionSpec]>;
/** An entry of --help: its indented lines after the flag line, joined again (wrapping undone). */
function entryOf(help: string, flagLine: string): string | undefined {
  const lines = help.split('\n');
  const at = lines.indexOf(flagLine);
  if (at < 0) return undefined;
  const body: string[] = [];
  for (const line of lines.slice(at + 1)) {
    if (!line.startsWith('      ')) break;
    body.push(line.trim());
  }
  return body.join(' ');
}

describe('one option table', () => {
  it("README's reference is the table, row for row (npx tsx scripts/reference.ts rewrites it)", () => {
    expect(readmeTable()).toBe(referenceTable());
  });

  it('--help lists every command, every option with its environment variables and default, and the environment-only settings', () => {
    const help = helpFor(['--help']);
    expect(helpFor(['-h'])).toBe(help);
    for (const command of COMMANDS) expect(help).toMatch(new RegExp(`^ {2}${command} `, 'm'));
    for (const [name, spec] of options) {
      const flag = `  --${name}${spec.short ? `, -${spec.short}` : ''}${spec.type === 'string' ? ' VALUE' : ''}`;
      const env = spec.env.length === 0 ? 'no environment variable' : `env ${spec.env.join(', ')}`;
      const fallback = spec.default === '' ? '' : `; default ${plainText(spec.default)}`;
      expect(entryOf(help, flag), name).toBe(`${env}${fallback} ${plainText(spec.help)}`);
    }
    for (const setting of ENVIRONMENT_ONLY)
      expect(entryOf(help, `  ${setting.env.join(', ')}`)).toBe(
        `env ${setting.env.join(', ')}; default ${setting.default} ${plainText(setting.help)}`,
      );
    // What a terminal shows: no Markdown.
    expect(help).not.toMatch(/`|\]\(#/);
  });

  it('COMMAND --help: the options of that command, and only those', () => {
    for (const command of COMMANDS) {
      const help = helpFor([command, '--help']);
      expect(help.split('\n')[0]).toBe(`usage: vault-bootstrap ${command} [options]`);
      for (const [name, spec] of options) {
        const listed = new RegExp(`^ {2}--${name}[ ,\\n]|^ {2}--${name}$`, 'm').test(help);
        expect(listed, `${command} --${name}`).toBe(spec.commands === 'all' || spec.commands.includes(command));
      }
    }
    expect(helpFor(['seal', '--help'])).toMatch(/^ {2}--reason VALUE$/m);
    expect(helpFor(['status', '--help'])).not.toMatch(/^ {2}--once$/m);
    expect(helpFor(['run', '--help'])).toMatch(/^ {2}--once$/m);
  });

  it('--help wins over anything else on the line, bad input included', () => {
    expect(helpFor(['run', '--store', 's3', '--help'])).toMatch(/^usage: vault-bootstrap run/);
  });
});
