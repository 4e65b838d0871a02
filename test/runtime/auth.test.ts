/**
 * Authentication from the environment (docs/wire-protocol.md §3–4): NATS token and user/password, etcd
 * user/password, against real servers that require them; wrong credentials are one clear line,
 * not a hang.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { DistributedRuntime, EtcdUnavailableError, NatsUnavailableError } from '../../src/runtime/index.ts';
import { natsOptionsFromEnv } from '../../src/runtime/connections.ts';
import { cleanups } from '../support/process.ts';
import { startEtcd, startNats } from '../support/servers.ts';
import { startScript } from '../support/workers.ts';

for (const [kind, serverArgs, goodEnv, badEnv] of [
  ['token', ['--auth', 's3cret-token'], { NATS_AUTH_TOKEN: 's3cret-token' }, { NATS_AUTH_TOKEN: 'wrong' }],
  [
    'user and password',
    ['--user', 'dyn', '--pass', 'p4ss'],
    { NATS_AUTH_USERNAME: 'dyn', NATS_AUTH_PASSWORD: 'p4ss' },
    { NATS_AUTH_USERNAME: 'dyn', NATS_AUTH_PASSWORD: 'nope' },
  ],
] as const) {
  test(`NATS ${kind} from the environment`, async (t) => {
    const defer = cleanups(t);
    const nats = await startNats([...serverArgs]);
    defer(() => nats.stop());
    const etcd = await startEtcd();
    defer(() => etcd.stop());
    const base = { NATS_SERVER: nats.url, ETCD_ENDPOINTS: etcd.url };
    const drt = await DistributedRuntime.connect({ env: { ...base, ...goodEnv } });
    defer(() => drt.shutdown());
    const ep = drt.namespace('auth').component('c').endpoint('e');
    await ep.serve(() => 'authenticated');
    const client = await ep.client();
    await client.waitForInstances(1);
    assert.equal((await client.request({})).text(), 'authenticated');
    assert.ok(natsOptionsFromEnv({ ...base, ...goodEnv }).servers.includes(nats.url));

    await assert.rejects(DistributedRuntime.connect({ env: { ...base, ...badEnv }, connectTimeoutMs: 3000 }), (err: unknown) => {
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

test('etcd user and password from the environment', async (t) => {
  const defer = cleanups(t);
  const nats = await startNats();
  defer(() => nats.stop());
  const etcd = await startEtcd();
  defer(() => etcd.stop());
  const ctl = (...args: string[]): string =>
    execFileSync('etcdctl', [`--endpoints=${etcd.url}`, ...args], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } });
  ctl('user', 'add', 'root:rootpw');
  ctl('user', 'grant-role', 'root', 'root');
  ctl('auth', 'enable');
  assert.throws(() => ctl('put', 'probe', 'x'), 'etcd now refuses anonymous clients');
  const base = { NATS_SERVER: nats.url, ETCD_ENDPOINTS: etcd.url };
  const drt = await DistributedRuntime.connect({ env: { ...base, ETCD_AUTH_USERNAME: 'root', ETCD_AUTH_PASSWORD: 'rootpw' } });
  defer(() => drt.shutdown());
  const ep = drt.namespace('auth').component('c').endpoint('e');
  await ep.serve(() => 'ok');
  const client = await ep.client();
  await client.waitForInstances(1);
  assert.equal((await client.request({})).text(), 'ok');
  await assert.rejects(
    DistributedRuntime.connect({ env: { ...base, ETCD_AUTH_USERNAME: 'root', ETCD_AUTH_PASSWORD: 'wrong' }, connectTimeoutMs: 3000 }),
    (err: unknown) => {
      assert.ok(err instanceof EtcdUnavailableError);
      assert.match(
        err.message,
        /^etcd at http:\/\/127\.0\.0\.1:\d+ refused the credentials \(.+\); check ETCD_AUTH_USERNAME and ETCD_AUTH_PASSWORD$/,
      );
      assert.ok(!err.message.includes('wrong'), 'the password is not echoed');
      return true;
    },
  );
});

test('NATS credentials inside the server URL are used, a password holding /, @, : and a space included, and never printed', async (t) => {
  const defer = cleanups(t);
  const password = 'p/4@s:s w0rd';
  const nats = await startNats(['--user', 'dyn', '--pass', password]);
  defer(() => nats.stop());
  const etcd = await startEtcd();
  defer(() => etcd.stop());
  const hostPort = nats.url.replace(/^nats:\/\//, '');
  for (const server of [`nats://dyn:${encodeURIComponent(password)}@${hostPort}`, `nats://dyn:${password}@${hostPort}`]) {
    const drt = await DistributedRuntime.connect({ env: { NATS_SERVER: server, ETCD_ENDPOINTS: etcd.url } });
    await drt.shutdown();
  }
  // a wrong password in the URL: one line, and neither the password nor its encoded form in it
  const wrong = 'Wr0ng/p@ss';
  await assert.rejects(
    DistributedRuntime.connect({
      env: { NATS_SERVER: `nats://dyn:${wrong}@${hostPort}`, ETCD_ENDPOINTS: etcd.url },
      connectTimeoutMs: 3000,
    }),
    (err: unknown) => {
      assert.ok(err instanceof NatsUnavailableError);
      assert.doesNotMatch(err.message, /Wr0ng|p@ss|Wr0ng%2F/);
      assert.match(err.message, /authorization/i);
      return true;
    },
  );
});
