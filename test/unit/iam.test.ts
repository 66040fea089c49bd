import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { PrefixedStore, recordNames, underPrefix } from '../../src/store/names.js';
import { secretNames } from '../../src/store/types.js';

/**
 * The documented IAM (k8s/README.md, "IAM on GCP" and "IAM on AWS") against every secret name the
 * code builds, evaluated offline: no GCP emulator enforces a condition, and moto checks Secrets
 * Manager actions against resource `*` only (test/integration/kms-iam.test.ts), so the ARN
 * patterns and the condition are checked here, by their documented semantics.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const K8S_README = readFileSync(join(ROOT, 'k8s/README.md'), 'utf8');
const PREFIX = 'vault'; // the prefix the documents show
const PROJECT = 'projects/PROJECT_NUMBER';
const ARN_BASE = 'arn:aws:secretsmanager:REGION:ACCOUNT_ID:secret:';

/** Every name the program can touch for one cluster: its records, 50 claim generations, and the DR scratch prefix's records. */
const NAMES = recordNames(PREFIX, 50);
const SCRATCH_NAMES = recordNames(`${PREFIX}-restore`, 3);

function section(heading: string): string {
  const start = K8S_README.indexOf(`\n### ${heading}\n`);
  expect(start, heading).toBeGreaterThan(-1);
  const rest = K8S_README.slice(start + heading.length + 6);
  const end = rest.search(/\n#{2,3} /);
  return rest.slice(0, end === -1 ? undefined : end);
}

// ---- GCP: the subset of CEL the documents use, evaluated as IAM does ----

/** GCP's limit on logical operators in one condition expression. */
const GCP_MAX_LOGICAL_OPERATORS = 12;

function gcpCondition(expression: string): (resourceName: string) => boolean {
  const clauses = expression.split('||').map((clause) => clause.trim());
  expect(clauses.length - 1, 'logical operators').toBeLessThanOrEqual(GCP_MAX_LOGICAL_OPERATORS);
  const tests = clauses.map((clause) => {
    const startsWith = /^resource\.name\.startsWith\("([^"]+)"\)$/.exec(clause);
    if (startsWith) return (name: string) => name.startsWith(startsWith[1]!);
    const equals = /^resource\.name == "([^"]+)"$/.exec(clause);
    if (equals) return (name: string) => name === equals[1];
    throw new Error(`unsupported clause in the documented condition: ${clause}`);
  });
  return (name) => tests.some((test) => test(name));
}

/** What IAM checks for each call the GCP store makes: the secret (create, list versions) and a version (add, access). */
const gcpResources = (name: string) => [
  `${PROJECT}/secrets/${name}`,
  `${PROJECT}/secrets/${name}/versions/1`,
  `${PROJECT}/secrets/${name}/versions/latest`,
];

const documentedGcpCondition = (() => {
  const match = /--condition 'title=[^,]+,expression=([^']+)'/.exec(section('IAM on GCP'));
  expect(match, 'the gcloud --condition of IAM on GCP').not.toBeNull();
  return match![1]!;
})();

// ---- AWS: IAM resource ARN patterns (* any run of characters, ? exactly one) ----

function arnPattern(pattern: string): RegExp {
  const body = [...pattern]
    .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`);
}

/** A secret's ARN as Secrets Manager makes it: the name, `-`, and six random characters. */
const awsArn = (name: string, suffix = 'AbC12z') => `${ARN_BASE}${name}-${suffix}`;

interface Statement {
  Effect: string;
  Action: string[];
  Resource: string | string[];
}

const documentedAwsPolicy = (() => {
  const match = /```json\n([\s\S]*?)```/.exec(section('IAM on AWS'));
  expect(match, 'the first JSON block of IAM on AWS').not.toBeNull();
  return JSON.parse(match![1]!) as { Statement: Statement[] };
})();

function awsAllows(policy: { Statement: Statement[] }, action: string, arn: string): boolean {
  return policy.Statement.some(
    (statement) =>
      statement.Effect === 'Allow' &&
      statement.Action.includes(action) &&
      [statement.Resource].flat().some((resource) => arnPattern(resource).test(arn)),
  );
}

/** The Secrets Manager actions the AWS store makes: one per SDK command it sends (src/store/aws.ts). */
const AWS_ACTIONS = [...readFileSync(join(ROOT, 'src/store/aws.ts'), 'utf8').matchAll(/new (\w+)Command\(/g)].map(
  (match) => `secretsmanager:${match[1]}`,
);

/** The GCP permission each method of the store's client interface needs (src/store/gcp.ts, SecretManagerApi). */
const GCP_PERMISSIONS: Record<string, string | null> = {
  getProjectId: null, // reads the credentials' project: no Secret Manager call
  createSecret: 'secretmanager.secrets.create',
  addSecretVersion: 'secretmanager.versions.add',
  accessSecretVersion: 'secretmanager.versions.access',
  listSecretVersions: 'secretmanager.versions.list',
  close: null,
};

describe('the record names (store/names.ts)', () => {
  it('come from the code: every secretNames entry and the claim generations, each under the prefix', () => {
    expect(NAMES).toEqual(expect.arrayContaining(Object.values(secretNames(PREFIX))));
    expect(NAMES).toEqual(expect.arrayContaining(['vault-init-claim-g2', 'vault-init-claim-g50']));
    for (const name of [...NAMES, ...SCRATCH_NAMES]) {
      expect(name).toMatch(/^[A-Za-z0-9_-]{1,255}$/);
      expect(underPrefix(PREFIX, name), name).toBe(true);
    }
  });

  it('are refused outside the prefix before the store is called', async () => {
    let called = 0;
    const store = new PrefixedStore(
      new Proxy(new FileStore('/nonexistent-vb-dir'), {
        get: (target, property) => {
          called += 1;
          return Reflect.get(target, property);
        },
      }),
      PREFIX,
    );
    called = 0;
    for (const operation of [
      () => store.readLatest('other-unseal-keys'),
      () => store.addVersion('vaultx-seal-intent', '{}'),
      () => store.verifyAccess('vault'),
    ]) {
      await expect(operation()).rejects.toMatchObject({ code: 'INTERNAL' });
    }
    expect(called).toBe(0);
  });

  it('never coincide between two prefixes: no record name ends in "-" + another record name', () => {
    const suffixes = recordNames('P', 50).map((name) => name.slice('P-'.length));
    const clashes = suffixes.flatMap((longer) =>
      suffixes.filter((shorter) => longer.endsWith(`-${shorter}`)).map((shorter) => `${longer} / ${shorter}`),
    );
    expect(clashes).toEqual([]);
  });
});

describe('IAM on GCP, as documented', () => {
  it('the store needs exactly the documented permissions', () => {
    const gcpSource = readFileSync(join(ROOT, 'src/store/gcp.ts'), 'utf8');
    const api = /export interface SecretManagerApi \{([\s\S]*?)\n\}/.exec(gcpSource)![1]!;
    const methods = [...api.matchAll(/^\s+(\w+)\(/gm)].map((match) => match[1]!);
    expect(methods.filter((method) => !(method in GCP_PERMISSIONS))).toEqual([]);
    const permissions = methods
      .map((method) => GCP_PERMISSIONS[method])
      .filter((permission): permission is string => permission !== null);
    const documented = section('IAM on GCP');
    for (const permission of permissions) expect(documented, permission).toContain(permission);
  });

  it("the sidecar's condition is one startsWith clause and covers every name, its versions, and the DR scratch prefix", () => {
    expect(documentedGcpCondition).toBe(`resource.name.startsWith("${PROJECT}/secrets/${PREFIX}-")`);
    const allowed = gcpCondition(documentedGcpCondition);
    const denied = [...NAMES, ...SCRATCH_NAMES].flatMap(gcpResources).filter((resource) => !allowed(resource));
    expect(denied).toEqual([]);
  });

  it('another cluster\'s secrets fall outside it, unless its prefix is this one followed by "-" (the documented rule)', () => {
    const allowed = gcpCondition(documentedGcpCondition);
    for (const other of ['vaultprod', 'vault_prod', 'vaul', 'other', 'vault2']) {
      expect(recordNames(other).flatMap(gcpResources).filter(allowed), other).toEqual([]);
    }
    // The documented hazard: `vault` beside `vault-prod` lets the first read the second's keys.
    expect(allowed(`${PROJECT}/secrets/${secretNames('vault-prod').unsealKeys}`)).toBe(true);
    // Prefixes chosen by the rule (neither is the other followed by "-") never see each other.
    const conditionFor = (prefix: string) =>
      gcpCondition(documentedGcpCondition.replace(`secrets/${PREFIX}-`, `secrets/${prefix}-`));
    for (const [mine, theirs] of [
      ['vault-prod-eu1', 'vault-staging-eu1'],
      ['vault-staging-eu1', 'vault-prod-eu1'],
      ['team-a', 'team-b'],
    ] as const) {
      expect(recordNames(theirs).flatMap(gcpResources).filter(conditionFor(mine)), `${mine} vs ${theirs}`).toEqual([]);
    }
  });

  it("CI's per-secret binding names the provisioner token, and break-glass the keys and the root token", () => {
    const text = section('IAM on GCP');
    const bound = [...text.matchAll(/gcloud secrets add-iam-policy-binding (\S+)/g)].map((match) => match[1]);
    expect(bound).toEqual([secretNames(PREFIX).provisionerToken]);
    expect(text).toContain(`(\`${secretNames(PREFIX).unsealKeys}\`, \`${secretNames(PREFIX).rootToken}\`)`);
  });
});

describe('IAM on AWS, as documented', () => {
  it('the policy grants exactly the actions the store sends (and TagResource, checked on a tagged create)', () => {
    const documented = new Set(documentedAwsPolicy.Statement.flatMap((statement) => statement.Action));
    expect([...documented].sort()).toEqual([...AWS_ACTIONS, 'secretsmanager:TagResource'].sort());
  });

  it('covers every action on every name and the DR scratch prefix, whatever six characters AWS appends', () => {
    const missing: string[] = [];
    for (const name of [...NAMES, ...SCRATCH_NAMES]) {
      for (const suffix of ['AbC12z', '000000', 'zzzzzz']) {
        for (const action of AWS_ACTIONS)
          if (!awsAllows(documentedAwsPolicy, action, awsArn(name, suffix))) missing.push(`${action} ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('another cluster\'s secrets fall outside it, unless its prefix is this one followed by "-" (the documented rule)', () => {
    const reaches = (policy: typeof documentedAwsPolicy, prefix: string) =>
      recordNames(prefix).filter((name) => AWS_ACTIONS.some((action) => awsAllows(policy, action, awsArn(name))));
    for (const other of ['vaultprod', 'vault_prod', 'vaul', 'other', 'vault2'])
      expect(reaches(documentedAwsPolicy, other), other).toEqual([]);
    expect(reaches(documentedAwsPolicy, 'vault-prod')).toContain(secretNames('vault-prod').unsealKeys); // the documented hazard
    const policyFor = (prefix: string) =>
      JSON.parse(
        JSON.stringify(documentedAwsPolicy).replaceAll(`secret:${PREFIX}-*`, `secret:${prefix}-*`),
      ) as typeof documentedAwsPolicy;
    for (const [mine, theirs] of [
      ['vault-prod-eu1', 'vault-staging-eu1'],
      ['vault-staging-eu1', 'vault-prod-eu1'],
      ['team-a', 'team-b'],
    ] as const) {
      expect(reaches(policyFor(mine), theirs), `${mine} vs ${theirs}`).toEqual([]);
    }
  });

  it("CI's and break-glass's exact ARNs (-??????) match their secrets and nothing else the program names", () => {
    const text = section('IAM on AWS');
    const ciArn = /secretsmanager:GetSecretValue` on `([^`]+)`/.exec(text)![1]!;
    const every = [...NAMES, ...recordNames('vault-prod'), ...SCRATCH_NAMES];
    expect(every.filter((name) => arnPattern(ciArn).test(awsArn(name)))).toEqual([
      secretNames(PREFIX).provisionerToken,
    ]);
    // -?????? is exactly six characters: not five, not seven, not a longer name's tail.
    expect(arnPattern(ciArn).test(awsArn(secretNames(PREFIX).provisionerToken, 'AbC12'))).toBe(false);
    expect(arnPattern(ciArn).test(awsArn(secretNames(PREFIX).provisionerToken, 'AbC12zz'))).toBe(false);
    const breakGlass = [...text.matchAll(/`(vault-[a-z-]+-\?{6})`/g)].map((match) => `${ARN_BASE}${match[1]}`);
    expect(breakGlass.length).toBeGreaterThan(0);
    expect(every.filter((name) => breakGlass.some((pattern) => arnPattern(pattern).test(awsArn(name)))).sort()).toEqual(
      [secretNames(PREFIX).rootToken, secretNames(PREFIX).unsealKeys].sort(),
    );
  });
});
