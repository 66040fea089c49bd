import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * .dockerignore rules as Docker and podman read them: patterns relative to the context root,
 * `*` within one path segment, `**` across segments, `!` re-includes, the last matching rule wins,
 * and a rule that matches a directory matches everything under it.
 */
function dockerignoreRules(text: string): Array<{ exclude: boolean; pattern: RegExp }> {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const exclude = !line.startsWith('!');
      const cleaned = (exclude ? line : line.slice(1)).replace(/^\.?\//, '').replace(/\/+$/, '');
      const source = cleaned
        .split(/(\*\*\/|\/\*\*$|\*\*|\*|\?)/)
        .map((part) => {
          if (part === '**/') return '(?:.*/)?';
          if (part === '/**') return '(?:/.*)?';
          if (part === '**') return '.*';
          if (part === '*') return '[^/]*';
          if (part === '?') return '[^/]';
          return part.replace(/[.+^${}()|[\]\\]/g, '\\$&');
        })
        .join('');
      return { exclude, pattern: new RegExp(`^${source}(?:/.*)?$`) };
    });
}

function isExcluded(path: string, rules: ReturnType<typeof dockerignoreRules>): boolean {
  let excluded = false;
  for (const rule of rules) if (rule.pattern.test(path)) excluded = rule.exclude;
  return excluded;
}

/** Every file of the working tree (relative paths), less what never reaches any context. */
function workingTreeFiles(directory = ROOT): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory())
      return ['.git', 'node_modules', '.tools'].includes(entry.name) && directory === ROOT
        ? []
        : workingTreeFiles(path);
    return entry.isFile() ? [relative(ROOT, path)] : [];
  });
}

/** The build-context sources of the Dockerfile's COPY instructions (not those `--from` a stage). */
function copySources(dockerfile: string): string[] {
  return dockerfile
    .split('\n')
    .filter((line) => /^COPY\s/i.test(line) && !/--from=/.test(line))
    .flatMap((line) => {
      const words = line
        .trim()
        .split(/\s+/)
        .slice(1)
        .filter((word) => !word.startsWith('--'));
      return words.slice(0, -1).map((source) => source.replace(/^\.\//, '').replace(/\/+$/, ''));
    });
}

describe('.dockerignore', () => {
  const rules = dockerignoreRules(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
  const sources = copySources(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const files = workingTreeFiles();
  const under = (source: string) => files.filter((file) => file === source || file.startsWith(`${source}/`));

  it('finds the COPY sources', () => {
    expect(sources).toEqual(
      expect.arrayContaining([
        'package.json',
        'package-lock.json',
        'scripts/build.mjs',
        'scripts/bundle',
        'src',
        'policies',
      ]),
    );
  });

  it.each(sources)('lets every file of the COPY source %s into the build context', (source) => {
    expect(statSync(join(ROOT, source)).isFile() || statSync(join(ROOT, source)).isDirectory()).toBe(true);
    expect(under(source).length).toBeGreaterThan(0);
    expect(under(source).filter((file) => isExcluded(file, rules))).toEqual([]);
  });

  it('keeps everything else out (local stores, .tools, tests, docs)', () => {
    const sent = files.filter((file) => !isExcluded(file, rules));
    expect(sent.filter((file) => !sources.some((source) => file === source || file.startsWith(`${source}/`)))).toEqual(
      [],
    );
    for (const secretish of [
      '.vault-bootstrap/vault-root-token',
      'test/unit/dockerignore.test.ts',
      'src/cli.test.ts',
      'README.md',
    ]) {
      expect(isExcluded(secretish, rules), secretish).toBe(true);
    }
  });
});
