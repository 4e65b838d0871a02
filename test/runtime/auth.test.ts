/**
 * NATS authentication from the environment (wire.md §4): token and user/password against a real
 * nats-server that requires them; wrong credentials are one clear line, not a hang.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DistributedRuntime, NatsUnavailableError, natsOptionsFromEnv } from '../../src/runtime/index.ts';
import { cleanups } from '../support/process.ts';
import { startEtcd, startNats } from '../support/servers.ts';
import { startScript } from '../support/workers.ts';

for (const [kind, serverArgs, goodEnv, badEnv] of [
  ['token', ['--auth', 's3cret-token'], { NATS_AUTH_TOKEN: 's3cret-token' }, { NATS_AUTH_TOKEN: 'wrong' }],
  ['user and password', ['--user', 'dyn', '--pass', 'p4ss'], { NATS_AUTH_USERNAME: 'dyn', NATS_AUTH_PASSWORD: 'p4ss' }, { NATS_AUTH_USERNAME: 'dyn', NATS_AUTH_PASSWORD: 'nope' }],
] as const) {
  test(`NATS ${kind} from the environment`, async (t) => {
    const defer = cleanups(t);
    const nats = await startNats([...serverArgs]);
    defer(() => nats.stop());
    const etcd = await startEtcd();
    defer(() => etcd.stop());
    const base = { NATS_SERVER: nats.url, ETCD_ENDPOINTS: etcd.url };
    const drt = await DistributedRuntime.connect({ env: { ...base, ...goodEnv }, systemStatus: false });
    defer(() => drt.shutdown());
    const ep = drt.namespace('auth').component('c').endpoint('e');
    await ep.serve(() => 'authenticated');
    const client = await ep.client();
    await client.waitForInstances(1);
    assert.equal((await client.request({})).text(), 'authenticated');
    assert.ok(natsOptionsFromEnv({ ...base, ...goodEnv }).servers.includes(nats.url));

    await assert.rejects(DistributedRuntime.connect({ env: { ...base, ...badEnv }, systemStatus: false, connectTimeoutMs: 3000 }), (err: unknown) => {
      assert.ok(err instanceof NatsUnavailableError);
      assert.match(err.message, /^cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: .*authorization/i);
      return true;
    });
    // the same through a command: one line, exit 1
    const p = startScript('src/cli/mock_worker.ts', [], { ...process.env, ...base, ...badEnv });
    const { code } = await p.exited;
    assert.equal(code, 1);
    assert.match(p.output().trim(), /^mock_worker: error: cannot connect to NATS at .*authorization/i);
    assert.equal(p.output().trim().split('\n').length, 1);
  });
}

test('every command answers --help with exit 0', async () => {
  for (const [script, flag] of [['src/cli/metrics.ts', '--component'], ['src/cli/mock_worker.ts', '--workers'], ['src/cli/system_server.ts', '--client'], ['scripts/demo.ts', '--with-prometheus']] as const) {
    const p = startScript(script, ['--help'], process.env);
    const { code } = await p.exited;
    assert.equal(code, 0, `${script}: ${p.output()}`);
    assert.ok(p.output().includes(flag), `${script} --help mentions ${flag}`);
    assert.match(p.output(), /^Usage: /m);
  }
});
