import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCUMENTS = [
  'README.md',
  'CONTRIBUTING.md',
  'k8s/README.md',
  ...readdirSync(join(ROOT, 'docs')).map((name) => `docs/${name}`),
];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function headingsOf(document: string): string[] {
  const text = readFileSync(join(ROOT, document), 'utf8').replace(/```[\s\S]*?```/g, '');
  return [...text.matchAll(/^#{1,6} (.+)$/gm)].map((match) => match[1]!);
}

function sourceFiles(directory: string): string[] {
  return readdirSync(join(ROOT, directory), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(directory, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(directory, entry.name)]
        : [],
  );
}

describe('the documents', () => {
  it.each(DOCUMENTS)('%s: every relative link leads to a file, and every anchor to a heading', (document) => {
    const text = readFileSync(join(ROOT, document), 'utf8').replace(/```[\s\S]*?```/g, '');
    const broken: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [path, anchor] = target!.split('#') as [string, string | undefined];
      const file = path === '' ? document : relative(ROOT, join(ROOT, dirname(document), path));
      if (!existsSync(join(ROOT, file))) {
        broken.push(`${target}: no file ${file}`);
        continue;
      }
      if (anchor !== undefined && file.endsWith('.md') && !headingsOf(file).map(anchorOf).includes(anchor)) {
        broken.push(`${target}: no heading #${anchor} in ${file}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it.each(DOCUMENTS)('%s: every repository path it names in backticks exists', (document) => {
    const text = readFileSync(join(ROOT, document), 'utf8').replace(/```[\s\S]*?```/g, '');
    const missing: string[] = [];
    const topLevel = /^(src|test|harness|scripts|k8s|policies|docs|\.ci)\//;
    for (const [, path] of text.matchAll(/`([\w./-]+)`/g)) {
      if (!topLevel.test(path!) || path!.includes('*')) continue;
      if (!existsSync(join(ROOT, path!)) && !existsSync(join(ROOT, dirname(document), path!))) missing.push(path!);
    }
    expect(missing).toEqual([]);
  });
});

describe('the tree', () => {
  it('holds no merge conflict markers', () => {
    const files = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((file) => file !== '' && existsSync(join(ROOT, file)));
    const marked = files.filter((file) => /^(<{7}|>{7}) /m.test(readFileSync(join(ROOT, file), 'latin1')));
    expect(marked).toEqual([]);
  });
});

describe('messages that point into README', () => {
  it('name a heading that exists', () => {
    const anchors = headingsOf('README.md').map((heading) => heading.toLowerCase());
    const pointers = sourceFiles('src').flatMap((file) =>
      [...readFileSync(join(ROOT, file), 'utf8').matchAll(/README: ([^)'`"]+)\)/g)].map((match) => ({
        file,
        heading: match[1]!.trim(),
      })),
    );
    expect(pointers.length).toBeGreaterThan(0);
    const dangling = pointers.filter(
      ({ heading }) => !anchors.some((anchor) => anchor.includes(heading.toLowerCase())),
    );
    expect(dangling).toEqual([]);
  });
});
