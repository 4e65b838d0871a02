/**
 * The process stays safe whatever arrives from outside it: SIGHUP and SIGUSR2 stop `metrics` as
 * cleanly as SIGTERM (the PushGateway group is deleted); SIGUSR1 does not open the inspector; a
 * reader of stderr that goes away does not stop it; the HTTP routes answer 405 to other methods.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { cleanups, freePort, sleep, tcpAccepts, waitUntil } from '../support/process.ts';
import { startCluster, startPushGateway, testCluster } from '../support/servers.ts';
import { startMetrics } from '../support/aggregator.ts';
import { clusterEnv } from '../support/workers.ts';

const ROOT = join(import.meta.dirname, '..', '..');

for (const sig of ['SIGHUP', 'SIGUSR2'] as const) {
  test(`${sig} stops metrics cleanly: exit 0 and the PushGateway group deleted`, async (t) => {
    const defer = cleanups(t);
    const cluster = await startCluster();
    defer(() => cluster.stop());
    const gw = await startPushGateway();
    defer(() => gw.stop());
    const m = await startMetrics(cluster, [
      '--exporters',
      'prometheus,pushgateway',
      '--pushgateway-url',
      gw.url,
      '--pushgateway-instance',
      'sig',
      '--push-interval',
      '1s',
    ]);
    defer(() => m.proc.stop());
    await waitUntil(
      'a push',
      async () => ((await (await fetch(`${gw.url}/metrics`)).text()).includes('instance="sig"') ? true : undefined),
      20_000,
    );
    m.proc.signal(sig);
    const { code } = await m.proc.exited;
    assert.equal(code, 0, m.proc.output().slice(-500));
    assert.doesNotMatch(await (await fetch(`${gw.url}/metrics`)).text(), /instance="sig"/, 'group deleted');
  });
}

test('SIGUSR1 leaves the inspector closed and the process running; other methods get 405', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const m = await startMetrics(cluster);
  defer(() => m.proc.stop());
  const inspectorBefore = await tcpAccepts(9229);
  m.proc.signal('SIGUSR1');
  await sleep(500);
  assert.ok(m.proc.running, 'still running');
  if (!inspectorBefore) assert.equal(await tcpAccepts(9229), false, 'no inspector on 9229');
  assert.equal((await fetch(m.url)).status, 200);
  for (const method of ['POST', 'DELETE', 'PUT']) {
    const res = await fetch(m.url, { method });
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
  }
});

test('a closed stderr (metrics 2>&1 | head -n 2) does not stop metrics', async (t) => {
  const { cluster, defer } = await testCluster(t);
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src/cli/metrics.ts'),
      '--component',
      'c',
      '--endpoint',
      'e',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
    ],
    {
      cwd: ROOT,
      env: clusterEnv(cluster, { DYN_LOG: 'debug' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  defer(() => child.kill('SIGKILL'));
  // read two lines, then go away as `head -n 2` does
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    child.stderr.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.split('\n').length > 2) resolve();
    });
    child.once('close', (code) => reject(new Error(`metrics exited (${code}) before two lines: ${seen}`)));
  });
  child.stderr.destroy();
  child.stdout.destroy();
  await sleep(3000); // debug logging writes every cycle: EPIPE by now
  assert.equal(child.exitCode, null, 'still running');
  assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 200);
});
