/**
 * The alert rules shipped in config/prometheus/: promtool checks them, their unit tests pass
 * (`promtool test rules`), every alert has a test in which it fires, the compose Prometheus loads
 * them, and the unit tests fail when a rule is broken (so they test something).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { tempDir } from '../support/process.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const DIR = join(ROOT, 'config', 'prometheus');

function promtool(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

interface Rules {
  groups: { name: string; rules: { alert: string; expr: string; labels: { severity: string }; annotations: { summary: string } }[] }[];
}
interface RuleTests {
  rule_files: string[];
  tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
}

test('promtool check rules and promtool test rules pass', () => {
  const check = promtool('check', 'rules', join(DIR, 'alerts.yml'));
  assert.equal(check.status, 0, check.out);
  const unit = promtool('test', 'rules', join(DIR, 'alerts.test.yml'));
  assert.equal(unit.status, 0, unit.out);
  assert.match(unit.out, /SUCCESS/);
});

test('every alert has a severity, a summary, and a unit test in which it fires and one in which it stays quiet', () => {
  const rules = parseYaml(readFileSync(join(DIR, 'alerts.yml'), 'utf8')) as Rules;
  const tests = parseYaml(readFileSync(join(DIR, 'alerts.test.yml'), 'utf8')) as RuleTests;
  const cases = tests.tests.flatMap((t) => t.alert_rule_test);
  const alerts = rules.groups.flatMap((g) => g.rules);
  const names = alerts.map((r) => r.alert);
  for (const wanted of [
    'DynamoMetricsNatsDisconnected',
    'DynamoMetricsNoLeader',
    'DynamoMetricsViewStale',
    'DynamoMetricsWorkerCountDrop',
    'DynamoMetricsExportFailures',
    'DynamoMetricsDroppedPoints',
    'LlmLoadImbalance',
    'LlmKvCacheNearlyFull',
  ]) {
    assert.ok(names.includes(wanted), wanted);
  }
  for (const r of alerts) {
    assert.match(r.labels.severity, /^(critical|warning)$/, r.alert);
    assert.ok(r.annotations.summary.length > 0, r.alert);
    assert.ok(
      cases.some((c) => c.alertname === r.alert && c.exp_alerts.length > 0),
      `${r.alert} fires in a test`,
    );
    assert.ok(
      cases.some((c) => c.alertname === r.alert && c.exp_alerts.length === 0),
      `${r.alert} stays quiet in a test`,
    );
  }
});

test('the rule tests fail against a broken rule', () => {
  const dir = tempDir('dyn-rules-');
  const broken = readFileSync(join(DIR, 'alerts.yml'), 'utf8').replace(
    'expr: dynamo_metrics_nats_connected == 0',
    'expr: dynamo_metrics_nats_connected == 2',
  );
  assert.notEqual(broken, readFileSync(join(DIR, 'alerts.yml'), 'utf8'));
  writeFileSync(join(dir, 'alerts.yml'), broken);
  copyFileSync(join(DIR, 'alerts.test.yml'), join(dir, 'alerts.test.yml'));
  const unit = promtool('test', 'rules', join(dir, 'alerts.test.yml'));
  assert.notEqual(unit.status, 0);
  assert.match(unit.out, /DynamoMetricsNatsDisconnected/);
});

test('the compose Prometheus loads the rules: config/prometheus.yml names them and promtool check config reads them', () => {
  const cfg = parseYaml(readFileSync(join(ROOT, 'config', 'prometheus.yml'), 'utf8')) as { rule_files: string[] };
  assert.deepEqual(cfg.rule_files, ['prometheus/alerts.yml']);
  const check = promtool('check', 'config', join(ROOT, 'config', 'prometheus.yml'));
  assert.equal(check.status, 0, check.out);
  assert.match(check.out, /11 rules found/);
  // compose mounts the folder where the config expects it
  assert.match(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), /- \.\/config\/prometheus:\/etc\/prometheus\/prometheus:ro/);
});
