import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// `npm test` runs the suite on the engines floor and again on the image's Node major;
// VB_TEST_NODE_MAJOR says which major a pass meant to run on, so a wrong PATH cannot pass unseen.
describe('the Node runtime of this test pass', () => {
  const expected = process.env.VB_TEST_NODE_MAJOR;

  it.runIf(expected !== undefined)(`is Node ${expected}`, () => {
    expect(process.versions.node.split('.')[0]).toBe(expected);
  });

  it("meets package.json's engines floor", () => {
    const { engines } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      engines: { node: string };
    };
    const [floorMajor, floorMinor] = /^>=(\d+)\.(\d+)/.exec(engines.node)!.slice(1).map(Number) as [number, number];
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    expect(major > floorMajor || (major === floorMajor && minor >= floorMinor)).toBe(true);
  });
});
