import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../harness/child-server.js';
import { runCli, startCli, type RunningCli } from '../../harness/cli.js';
import { baoRequest, OpenBao } from '../../harness/openbao.js';

/**
 * The shipped alert rules and dashboard, against what a real sidecar exports: every metric they
 * name is in a real scrape, and `promtool test rules` evaluates each rule over series taken from
 * real scrapes of a sidecar converged, under a seal intent, beside a stopped server and blocked.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MONITORING = join(ROOT, 'k8s/monitoring');
const promtool = spawnSync('promtool', ['--version']).status === 0 ? 'promtool' : undefined;
if (promtool === undefined)
  console.warn(
    "alerts: skipped: promtool not installed (scripts/install-tools.sh promtool installs Debian's prometheus package)",
  );

/** The scrape's target labels, as Kubernetes service discovery would add them. */
const TARGET = { namespace: 'vault', pod: 'vault-0' };

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseScrape(text: string): { samples: Sample[]; names: Set<string> } {
  const samples: Sample[] = [];
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const declared = /^# TYPE (\S+) /.exec(line);
    if (declared) names.add(declared[1]!);
    const sample = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) continue;
    const labels = Object.fromEntries(
      [...(sample[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((match) => [match[1]!, match[2]!]),
    );
    samples.push({ name: sample[1]!, labels, value: Number(sample[3]) });
  }
  return { samples, names };
}

async function scrape(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

function valueOf(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  return parseScrape(text).samples.find(
    (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  )?.value;
}

/** One real scrape as promtool input series: every sample held constant for `minutes`. */
function seriesFrom(
  text: string,
  minutes: number,
  scrapedAtSeconds: number,
  override: (sample: Sample) => string | undefined = () => undefined,
): { series: string; values: string }[] {
  return parseScrape(text)
    .samples.filter((sample) => sample.name.startsWith('vault_bootstrap_') && Number.isFinite(sample.value))
    .map((sample) => {
      const labels = { ...sample.labels, ...TARGET };
      // promtool's clock starts at 0: a timestamp is kept relative to the moment of the scrape.
      const value = sample.name.endsWith('_timestamp_seconds') ? sample.value - scrapedAtSeconds : sample.value;
      const selector = Object.entries(labels)
        .map(([key, labelValue]) => `${key}="${labelValue}"`)
        .join(',');
      return { series: `${sample.name}{${selector}}`, values: override(sample) ?? `${value}x${minutes}` };
    });
}

interface Rule {
  alert: string;
  severity: string;
  summary: string;
  description: string;
}

/** The fields of each rule in rules.yaml that promtool compares (the file's own layout: one key per line). */
function rulesOf(text: string): Rule[] {
  return text
    .split(/^\s+- alert: /m)
    .slice(1)
    .map((block) => ({
      alert: block.split('\n')[0]!.trim(),
      severity: /severity: (\S+)/.exec(block)![1]!,
      summary: /summary: (.+)/.exec(block)![1]!.trim(),
      description: JSON.parse(/description: (".+")/.exec(block)![1]!) as string,
    }));
}

function expectedAlert(rule: Rule, labels: Record<string, string>): object {
  const expand = (text: string) =>
    text.replace(/\{\{ \$labels\.([a-z_]+) \}\}/g, (_, name: string) => labels[name] ?? '');
  return {
    exp_labels: { severity: rule.severity, ...labels },
    exp_annotations: { summary: rule.summary, description: expand(rule.description) },
  };
}

async function expectPromtoolPasses(tests: object[], evaluationInterval: string): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'vb-promtool-'));
  await writeFile(
    join(directory, 'tests.yaml'),
    JSON.stringify({ rule_files: [join(MONITORING, 'rules.yaml')], evaluation_interval: evaluationInterval, tests }),
  );
  const result = spawnSync(promtool!, ['test', 'rules', join(directory, 'tests.yaml')], { encoding: 'utf8' });
  expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
}

describe.skipIf(promtool === undefined)('alerts and dashboard against a real sidecar', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  async function sidecar(
    server: OpenBao,
    extra: string[] = [],
  ): Promise<{ port: number; cli: RunningCli; args: string[] }> {
    const storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-alerts-')), 'store');
    const port = await freePort();
    const args = ['--store', 'file', '--file-dir', storeDirectory, '--vault-addr', server.address];
    const cli = startCli([
      'run',
      ...args,
      '--listen',
      `127.0.0.1:${port}`,
      '--interval',
      '1s',
      '--provisioner-ttl',
      '1h',
      ...extra,
    ]);
    cleanups.push(async () => {
      cli.child.kill('SIGTERM');
      await cli.result;
    });
    await cli.waitFor('"event":"listening"');
    return { port, cli, args };
  }

  it('each rule fires on the situation it names, from real scrapes, and stays quiet on a converged sidecar', async () => {
    const rulesText = await readFile(join(MONITORING, 'rules.yaml'), 'utf8');
    const rules = rulesOf(rulesText);
    const rule = (name: string) => rules.find((candidate) => candidate.alert === name)!;
    const now = () => Date.now() / 1000;

    // Converged.
    const server = await OpenBao.create({ kind: 'openbao' });
    cleanups.push(() => server.stop());
    await server.start();
    // Snapshots in the loop, beside the record of a restore drill that passed (restore-drill.test.ts
    // shows the drill writing it): the sidecar publishes both times.
    const snapshots = await mkdtemp(join(tmpdir(), 'vb-alerts-snapshots-'));
    await writeFile(
      join(snapshots, 'verified-restore.json'),
      JSON.stringify({
        format: 1,
        snapshot: 'snapshot-20261207T000000000Z-000000',
        clusterId: 'c',
        keysVersion: 1,
        verifiedAt: new Date().toISOString(),
        checks: [],
      }),
    );
    const { port, args } = await sidecar(server, ['--snapshot-to', `file://${snapshots}`, '--snapshot-interval', '1h']);
    await expect
      .poll(async () => valueOf(await scrape(port), 'vault_bootstrap_last_snapshot_size_bytes'), {
        timeout: 60_000,
        interval: 200,
      })
      .toBeGreaterThan(0);
    await expect
      .poll(async () => valueOf(await scrape(port), 'vault_bootstrap_state', { state: 'ready' }), {
        timeout: 60_000,
        interval: 200,
      })
      .toBe(1);
    await expect
      .poll(async () => valueOf(await scrape(port), 'vault_bootstrap_provisioner_token_expiry_timestamp_seconds'), {
        timeout: 30_000,
        interval: 200,
      })
      .toBeGreaterThan(0);
    const converged = { text: await scrape(port), at: now() };

    // A deliberate seal.
    expect((await runCli(['seal', '--reason', 'alerts test', ...args])).code).toBe(0);
    await expect
      .poll(async () => valueOf(await scrape(port), 'vault_bootstrap_seal_intent'), { timeout: 30_000, interval: 200 })
      .toBe(1);
    await expect
      .poll(async () => valueOf(await scrape(port), 'vault_bootstrap_state', { state: 'sealed' }), {
        timeout: 30_000,
        interval: 200,
      })
      .toBe(1);
    const sealedOnPurpose = { text: await scrape(port), at: now() };
    expect((await runCli(['resume', ...args])).code).toBe(0);
    await expect
      .poll(async () => valueOf(await scrape(port), 'vault_bootstrap_state', { state: 'ready' }), {
        timeout: 30_000,
        interval: 200,
      })
      .toBe(1);

    // The server stops.
    await server.stop();
    await expect
      .poll(async () => valueOf(await scrape(port), 'vault_bootstrap_vault_up'), { timeout: 30_000, interval: 200 })
      .toBe(0);
    const serverDown = { text: await scrape(port), at: now() };

    // Blocked: a server initialized by someone else, beside an empty store.
    const foreign = await OpenBao.create({ kind: 'openbao' });
    cleanups.push(() => foreign.stop());
    await foreign.start();
    expect(
      (await baoRequest(foreign, 'PUT', 'sys/init', undefined, { secret_shares: 1, secret_threshold: 1 })).status,
    ).toBe(200);
    const blockedSidecar = await sidecar(foreign);
    const blockerOf = (text: string) =>
      parseScrape(text).samples.find((sample) => sample.name === 'vault_bootstrap_blocked' && sample.value === 1)
        ?.labels.reason;
    await expect
      .poll(async () => blockerOf(await scrape(blockedSidecar.port)), { timeout: 30_000, interval: 200 })
      .toBeDefined();
    const blocked = { text: await scrape(blockedSidecar.port), at: now() };
    const blocker = blockerOf(blocked.text)!;

    // Every metric the rules and the dashboard name is exported by the real sidecar.
    const exported = parseScrape(converged.text).names;
    const dashboard = await readFile(join(MONITORING, 'grafana-dashboard.json'), 'utf8');
    const named = new Set(
      [...`${rulesText}\n${dashboard}`.matchAll(/vault_bootstrap_[a-z_]+/g)].map((match) => match[0]),
    );
    expect([...named].filter((name) => !exported.has(name))).toEqual([]);
    expect(
      JSON.parse(dashboard).panels.every((panel: { targets: { expr: string }[] }) =>
        panel.targets.every((target) => /vault_bootstrap_/.test(target.expr)),
      ),
    ).toBe(true);

    const hours = 24 * 60;
    const ttlMinutes = 60;
    const tests = [
      {
        name: 'converged: nothing fires, even a day later',
        interval: '1m',
        input_series: seriesFrom(converged.text, hours, converged.at),
        alert_rule_test: rules
          .filter((each) => each.alert !== 'VaultBootstrapProvisionerTokenNotRotated')
          .map((each) => ({ eval_time: '20h', alertname: each.alert, exp_alerts: [] })),
      },
      {
        name: 'converged, but the token is never rotated: fires in the last tenth of its life',
        interval: '1m',
        input_series: seriesFrom(converged.text, ttlMinutes + 10, converged.at),
        alert_rule_test: [
          {
            eval_time: `${Math.floor(ttlMinutes * 0.85)}m`,
            alertname: 'VaultBootstrapProvisionerTokenNotRotated',
            exp_alerts: [],
          },
          {
            eval_time: `${ttlMinutes}m`,
            alertname: 'VaultBootstrapProvisionerTokenNotRotated',
            exp_alerts: [expectedAlert(rule('VaultBootstrapProvisionerTokenNotRotated'), TARGET)],
          },
        ],
      },
      {
        name: 'drift repaired again and again',
        interval: '1m',
        input_series: [
          ...seriesFrom(converged.text, 120, converged.at),
          {
            series: `vault_bootstrap_drift_repairs_total{kind="policy",namespace="${TARGET.namespace}",pod="${TARGET.pod}"}`,
            values: '0+0x30 1+1x89',
          },
        ],
        alert_rule_test: [
          { eval_time: '32m', alertname: 'VaultBootstrapDriftRepairedRepeatedly', exp_alerts: [] },
          {
            eval_time: '60m',
            alertname: 'VaultBootstrapDriftRepairedRepeatedly',
            exp_alerts: [expectedAlert(rule('VaultBootstrapDriftRepairedRepeatedly'), { ...TARGET, kind: 'policy' })],
          },
        ],
      },
      {
        name: 'sealed on purpose: the intent alert, not the sealed one',
        interval: '1m',
        input_series: seriesFrom(sealedOnPurpose.text, 30, sealedOnPurpose.at),
        alert_rule_test: [
          {
            eval_time: '10m',
            alertname: 'VaultBootstrapSealIntentActive',
            exp_alerts: [expectedAlert(rule('VaultBootstrapSealIntentActive'), TARGET)],
          },
          { eval_time: '10m', alertname: 'VaultBootstrapVaultSealed', exp_alerts: [] },
          { eval_time: '10m', alertname: 'VaultBootstrapNeedsPerson', exp_alerts: [] },
        ],
      },
      {
        name: 'the same scrape without the intent: a node sealed for no reason pages',
        interval: '1m',
        input_series: seriesFrom(sealedOnPurpose.text, 30, sealedOnPurpose.at, (sample) =>
          sample.name === 'vault_bootstrap_seal_intent' ? '0x30' : undefined,
        ),
        alert_rule_test: [
          { eval_time: '30s', alertname: 'VaultBootstrapVaultSealed', exp_alerts: [] },
          {
            eval_time: '2m',
            alertname: 'VaultBootstrapVaultSealed',
            exp_alerts: [expectedAlert(rule('VaultBootstrapVaultSealed'), TARGET)],
          },
        ],
      },
      {
        name: 'resumed, an auto-unseal node sealed until its restart: its own warning, not the critical sealed or needs-person ones',
        interval: '1m',
        input_series: seriesFrom(sealedOnPurpose.text, 30, sealedOnPurpose.at, (sample) =>
          sample.name === 'vault_bootstrap_seal_intent'
            ? '0x30'
            : sample.name === 'vault_bootstrap_blocked'
              ? sample.labels.reason === 'sealed-until-restart'
                ? '1x30'
                : '0x30'
              : undefined,
        ),
        alert_rule_test: [
          {
            eval_time: '10m',
            alertname: 'VaultBootstrapSealedUntilRestart',
            exp_alerts: [expectedAlert(rule('VaultBootstrapSealedUntilRestart'), TARGET)],
          },
          { eval_time: '10m', alertname: 'VaultBootstrapVaultSealed', exp_alerts: [] },
          { eval_time: '10m', alertname: 'VaultBootstrapNeedsPerson', exp_alerts: [] },
        ],
      },
      {
        name: 'store calls failing: the store-error alert after a quarter of an hour',
        interval: '1m',
        input_series: [
          ...seriesFrom(converged.text, 60, converged.at),
          {
            series: `vault_bootstrap_store_errors_total{op="readLatest",namespace="${TARGET.namespace}",pod="${TARGET.pod}"}`,
            values: '0x10 1+1x50',
          },
        ],
        alert_rule_test: [
          { eval_time: '15m', alertname: 'VaultBootstrapStoreErrors', exp_alerts: [] },
          {
            eval_time: '40m',
            alertname: 'VaultBootstrapStoreErrors',
            exp_alerts: [expectedAlert(rule('VaultBootstrapStoreErrors'), TARGET)],
          },
        ],
      },
      {
        name: 'no sidecar scraped at all: the absence alert',
        interval: '1m',
        input_series: [{ series: 'up{job="something-else"}', values: '1x30' }],
        alert_rule_test: [
          { eval_time: '5m', alertname: 'VaultBootstrapMetricsAbsent', exp_alerts: [] },
          {
            eval_time: '15m',
            alertname: 'VaultBootstrapMetricsAbsent',
            exp_alerts: [expectedAlert(rule('VaultBootstrapMetricsAbsent'), {})],
          },
        ],
      },
      {
        name: 'server stopped: unreachable within a few passes, not ready after ten minutes',
        interval: '1m',
        input_series: seriesFrom(serverDown.text, 30, serverDown.at),
        alert_rule_test: [
          {
            eval_time: '2m',
            alertname: 'VaultBootstrapVaultUnreachable',
            exp_alerts: [expectedAlert(rule('VaultBootstrapVaultUnreachable'), TARGET)],
          },
          { eval_time: '5m', alertname: 'VaultBootstrapNotReady', exp_alerts: [] },
          {
            eval_time: '11m',
            alertname: 'VaultBootstrapNotReady',
            exp_alerts: [expectedAlert(rule('VaultBootstrapNotReady'), TARGET)],
          },
        ],
      },
      {
        name: `blocked (${blocker}): a person is paged`,
        interval: '1m',
        input_series: seriesFrom(blocked.text, 30, blocked.at),
        alert_rule_test: [
          {
            eval_time: '2m',
            alertname: 'VaultBootstrapNeedsPerson',
            exp_alerts: [expectedAlert(rule('VaultBootstrapNeedsPerson'), { ...TARGET, reason: blocker })],
          },
        ],
      },
    ];
    // Months of key age are evaluated hourly, the rest every 30 s (as a Prometheus would).
    const keysAge = [
      {
        name: 'keys older than the policy',
        interval: '1h',
        input_series: seriesFrom(converged.text, 24 * 100, converged.at, (sample) =>
          sample.name === 'vault_bootstrap_keys_age_seconds' ? `${sample.value}+3600x${24 * 100}` : undefined,
        ),
        alert_rule_test: [
          { eval_time: '80d', alertname: 'VaultBootstrapKeysOld', exp_alerts: [] },
          {
            eval_time: '91d',
            alertname: 'VaultBootstrapKeysOld',
            exp_alerts: [expectedAlert(rule('VaultBootstrapKeysOld'), TARGET)],
          },
        ],
      },
    ];
    const namespace = { namespace: TARGET.namespace };
    const drills = [
      {
        name: 'snapshots taken and a restore drill passed: quiet for a week, fires once it is 8 days old',
        interval: '1h',
        input_series: seriesFrom(converged.text, 24 * 12, converged.at),
        alert_rule_test: [
          { eval_time: '7d', alertname: 'VaultBootstrapRestoreDrillOld', exp_alerts: [] },
          {
            eval_time: '9d',
            alertname: 'VaultBootstrapRestoreDrillOld',
            exp_alerts: [expectedAlert(rule('VaultBootstrapRestoreDrillOld'), namespace)],
          },
        ],
      },
      {
        name: 'snapshots taken, never a drill: fires after its hour',
        interval: '1h',
        input_series: seriesFrom(converged.text, 24, converged.at, (sample) =>
          sample.name === 'vault_bootstrap_last_verified_restore_timestamp_seconds' ? `${-converged.at}x24` : undefined,
        ),
        alert_rule_test: [
          {
            eval_time: '2h',
            alertname: 'VaultBootstrapRestoreDrillOld',
            exp_alerts: [expectedAlert(rule('VaultBootstrapRestoreDrillOld'), namespace)],
          },
        ],
      },
      {
        name: 'no snapshots configured (the blocked sidecar exports zeros): never',
        interval: '1h',
        input_series: seriesFrom(blocked.text, 24 * 12, blocked.at),
        alert_rule_test: [{ eval_time: '10d', alertname: 'VaultBootstrapRestoreDrillOld', exp_alerts: [] }],
      },
    ];
    await expectPromtoolPasses(tests, '30s');
    await expectPromtoolPasses([...keysAge, ...drills], '1h');
  }, 180_000);

  it("the PodMonitor selects the OpenBao pods by their template labels and scrapes the sidecar's metrics port", async () => {
    const monitor = await readFile(join(MONITORING, 'podmonitor.yaml'), 'utf8');
    const statefulSet = await readFile(join(ROOT, 'k8s/base/statefulset.yaml'), 'utf8');
    const template = statefulSet.slice(statefulSet.indexOf('  template:'));
    const selected = [
      ...monitor
        .slice(monitor.indexOf('matchLabels:'), monitor.indexOf('podMetricsEndpoints:'))
        .matchAll(/^ {6}([\w./-]+): (\S+)$/gm),
    ].map((match) => `${match[1]}: ${match[2]}`);
    expect(selected.length).toBeGreaterThan(0);
    for (const label of selected) expect(template).toContain(label);
    expect(monitor).toContain('matchNames: [vault]');
    expect(/- port: (\S+)/.exec(monitor)![1]).toBe('metrics');
    expect(template).toMatch(/- name: metrics\n\s+containerPort: 8099/);
  });

  it('the PrometheusRule carries exactly the rules of the plain rules file', async () => {
    const plain = (await readFile(join(MONITORING, 'rules.yaml'), 'utf8')).replace(/^#.*\n/gm, '');
    const operator = await readFile(join(MONITORING, 'prometheusrule.yaml'), 'utf8');
    const spec = operator.slice(operator.indexOf('\nspec:\n') + '\nspec:\n'.length).replace(/^ {2}/gm, '');
    expect(spec.trim()).toBe(plain.trim());
    expect(execFileSync(promtool!, ['check', 'rules', join(MONITORING, 'rules.yaml')], { encoding: 'utf8' })).toContain(
      'SUCCESS',
    );
  });
});
