/** What every command promises on the command line: --help, --version, and one line with exit 2 for a bad flag. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startScript } from '../support/workers.ts';

test('every command answers --help with exit 0', async () => {
  for (const [script, flag] of [
    ['src/cli/metrics.ts', '--component'],
    ['src/cli/mock_worker.ts', '--workers'],
    ['src/cli/system_server.ts', '--client'],
    ['src/cli/frontend.ts', '--http-port'],
    ['src/cli/loadgen.ts', '--prefix-share'],
    ['scripts/demo.ts', '--with-prometheus'],
  ] as const) {
    const p = startScript(script, ['--help'], process.env);
    const { code } = await p.exited;
    assert.equal(code, 0, `${script}: ${p.output()}`);
    assert.ok(p.output().includes(flag), `${script} --help mentions ${flag}`);
    assert.match(p.output(), /^Usage: /m);
  }
});

test('every command answers --version with its name and the package version, exit 0', async () => {
  const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  for (const [script, name] of [
    ['src/cli/metrics.ts', 'metrics'],
    ['src/cli/mock_worker.ts', 'mock_worker'],
    ['src/cli/system_server.ts', 'system_server'],
    ['src/cli/frontend.ts', 'frontend'],
    ['src/cli/loadgen.ts', 'loadgen'],
  ] as const) {
    const p = startScript(script, ['--version'], process.env);
    const { code } = await p.exited;
    assert.equal(code, 0, `${script}: ${p.output()}`);
    assert.equal(p.output().trim(), `${name} ${version}`);
  }
});

test('bad names and URLs are one-line errors with exit 2 in every command', async () => {
  for (const [script, args, re] of [
    ['src/cli/mock_worker.ts', ['--component', 'bad name'], /^mock_worker: error: invalid component name "bad name"/],
    [
      'src/cli/mock_worker.ts',
      ['--etcd-endpoints', 'etcd:2379'],
      /^mock_worker: error: etcd_endpoints: "etcd:2379" \(from --etcd-endpoints\)/,
    ],
    ['src/cli/system_server.ts', ['--endpoint', 'a.b'], /^system_server: error: invalid endpoint name "a\.b"/],
    [
      'src/cli/frontend.ts',
      ['--http-port', '70000'],
      /^frontend: error: http_port: "70000" \(from --http-port\) is out of range; use 0\.\.65535$/,
    ],
    ['src/cli/mock_worker.ts', ['--jitter', '2'], /^mock_worker: error: jitter: "2" \(from --jitter\) is out of range; use 0\.\.1$/],
    [
      'src/cli/system_server.ts',
      ['--nats-server', 'localhost'],
      /^system_server: error: nats_server: "localhost" \(from --nats-server\) has "localhost", which is not a URL$/,
    ],
  ] as const) {
    const p = startScript(script, [...args], process.env);
    const { code } = await p.exited;
    assert.equal(code, 2, `${script} ${args.join(' ')}: ${p.output()}`);
    assert.match(p.output().trim(), re);
    assert.equal(p.output().trim().split('\n').length, 1);
  }
});
