import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from './errors.js';

// policies/ beside src/ (tsx, tests) and beside dist/ (the bundle): both are one level below the package root.
const BUILT_IN_POLICIES_DIRECTORY = fileURLToPath(new URL('../policies/', import.meta.url));
const POLICY_NAME = /^[A-Za-z0-9_-]{1,128}$/;

/** Capabilities OpenBao and Vault accept in a `path` block. */
const CAPABILITIES = new Set([
  'create',
  'read',
  'update',
  'patch',
  'delete',
  'list',
  'sudo',
  'deny',
  'subscribe',
  'scan',
]);

type Token = { kind: 'string' | 'word' | 'punct'; text: string; line: number };

/**
 * Checks a policy's HCL before anything is sent to Vault, so a broken file stops the
 * program at start-up (exit 2) instead of half-way through configuring a live server.
 * It covers the grammar policies use (blocks, attributes, strings, numbers, lists,
 * objects, comments) and the capability names; OpenBao stays the final judge.
 */
export function checkPolicy(source: string, text: string): void {
  const tokens = tokenize(source, text);
  let index = 0;
  let pathBlocks = 0;

  const fail = (message: string, token = tokens[index]): never => {
    throw new ConfigError(`${source}: line ${token?.line ?? 'end'}: ${message}`);
  };
  const next = (): Token => tokens[index++] ?? fail('unexpected end of file');
  const peek = (): Token | undefined => tokens[index];
  const expect = (text: string): void => {
    const token = next();
    if (token.kind !== 'punct' || token.text !== text) fail(`expected "${text}"`, token);
  };

  const parseValue = (): unknown => {
    const token = next();
    if (token.kind === 'string') return token.text;
    if (token.kind === 'word') return token.text;
    if (token.text === '[') {
      const items: unknown[] = [];
      while (peek()?.text !== ']') {
        items.push(parseValue());
        if (peek()?.text === ',') next();
        else if (peek()?.text !== ']') fail('expected "," or "]" in a list');
      }
      next();
      return items;
    }
    if (token.text === '{') {
      parseBody(false);
      return {};
    }
    return fail(`unexpected "${token.text}"`, token);
  };

  const parseBody = (topLevel: boolean): void => {
    for (;;) {
      const token = peek();
      if (token === undefined) {
        if (topLevel) return;
        fail('missing "}"');
      }
      if (!topLevel && token!.text === '}' && token!.kind === 'punct') {
        next();
        return;
      }
      const name = next();
      if (name.kind === 'punct') fail(`unexpected "${name.text}"`, name);
      if (peek()?.text === '=') {
        next();
        const value = parseValue();
        if (name.text === 'capabilities') checkCapabilities(value, name);
        continue;
      }
      let label: Token | undefined;
      if (peek()?.kind === 'string') label = next();
      expect('{');
      if (topLevel && name.text === 'path') {
        if (label === undefined) fail('a path block needs a quoted path', name);
        pathBlocks += 1;
      }
      parseBody(false);
    }
  };

  const checkCapabilities = (value: unknown, at: Token): void => {
    if (!Array.isArray(value)) fail('capabilities must be a list of strings', at);
    for (const capability of value as unknown[]) {
      if (typeof capability !== 'string' || !CAPABILITIES.has(capability)) {
        fail(`invalid capability ${JSON.stringify(capability)} (expected one of ${[...CAPABILITIES].join(', ')})`, at);
      }
    }
  };

  parseBody(true);
  if (pathBlocks === 0) throw new ConfigError(`${source}: no path "…" { … } block`);
}

function tokenize(source: string, text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let position = 0;
  while (position < text.length) {
    const character = text[position]!;
    if (character === '\n') {
      line += 1;
      position += 1;
    } else if (/\s/.test(character)) {
      position += 1;
    } else if (character === '#' || text.startsWith('//', position)) {
      while (position < text.length && text[position] !== '\n') position += 1;
    } else if (text.startsWith('/*', position)) {
      const end = text.indexOf('*/', position + 2);
      if (end < 0) throw new ConfigError(`${source}: line ${line}: unterminated comment`);
      line += text.slice(position, end).split('\n').length - 1;
      position = end + 2;
    } else if (character === '"') {
      let value = '';
      position += 1;
      for (;;) {
        const next = text[position];
        if (next === undefined || next === '\n') throw new ConfigError(`${source}: line ${line}: unterminated string`);
        position += 1;
        if (next === '"') break;
        if (next === '\\') {
          value += text[position] ?? '';
          position += 1;
        } else {
          value += next;
        }
      }
      tokens.push({ kind: 'string', text: value, line });
    } else if ('{}[]=,'.includes(character)) {
      tokens.push({ kind: 'punct', text: character, line });
      position += 1;
    } else {
      const word = /^[A-Za-z0-9_.\-+]+/.exec(text.slice(position));
      if (word === null)
        throw new ConfigError(`${source}: line ${line}: unexpected character ${JSON.stringify(character)}`);
      tokens.push({ kind: 'word', text: word[0], line });
      position += word[0].length;
    }
  }
  return tokens;
}

/** Reads and checks every policy: the shipped ones, then *.hcl of --policies-dir (same name overrides). */
export function loadPolicies(policiesDirectory: string | undefined): Map<string, string> {
  // The shipped ones are part of the program: read once (the sidecar reloads every --interval).
  builtIn ??= readPolicyDirectory(BUILT_IN_POLICIES_DIRECTORY, 'built-in policies');
  const policies = new Map(builtIn);
  if (policiesDirectory !== undefined) {
    for (const [name, text] of readPolicyDirectory(policiesDirectory, '--policies-dir/VB_POLICIES_DIR'))
      policies.set(name, text);
  }
  return policies;
}

let builtIn: ReadonlyMap<string, string> | undefined;

/** The text of each policy file (by path) as it was when it last passed checkPolicy. */
const checked = new Map<string, string>();

function readPolicyDirectory(directory: string, name: string): Map<string, string> {
  let entries: string[];
  try {
    entries = readdirSync(directory)
      .filter((entry) => entry.endsWith('.hcl'))
      .sort();
  } catch (error) {
    throw new ConfigError(
      `${name}: cannot read directory ${directory} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const policies = new Map<string, string>();
  for (const entry of entries) {
    const path = join(directory, entry);
    const policyName = entry.slice(0, -'.hcl'.length);
    if (!POLICY_NAME.test(policyName) || policyName === 'root' || policyName === 'default') {
      throw new ConfigError(
        `${name}: ${path}: policy name must be letters, digits, "_" or "-" and not root or default`,
      );
    }
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new ConfigError(`${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    // A text already checked is not checked again: the sidecar re-reads the files every
    // --interval, and tokenizing them each time was most of its CPU at rest.
    if (checked.get(path) !== text) {
      checkPolicy(`${name}: ${path}`, text);
      checked.set(path, text);
    }
    policies.set(policyName, text);
  }
  return policies;
}
