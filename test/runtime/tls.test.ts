/**
 * Authenticated clusters (docs/wire-protocol.md §3–4): NATS over TLS with a private CA and with
 * client certificates, NATS NKEY seeds, etcd over mutual TLS with its material as files or as PEM
 * text, against real servers, to an IP address, without Node's DEP0123 warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { DistributedRuntime, EtcdUnavailableError, NatsUnavailableError } from '../../src/runtime/index.ts';
import { startMetrics, startMockWorker, waitForScrape, TARGET } from '../support/aggregator.ts';
import { cleanups } from '../support/process.ts';
import { startEtcd, startNats } from '../support/servers.ts';
import { privateCa } from '../support/tls.ts';

/** Warnings this process emits while `fn` runs (Node prints DEP0123 through this channel). */
async function warningsDuring(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const listener = (w: Error & { code?: string }): void => void seen.push(`${w.code ?? w.name}: ${w.message}`);
  process.on('warning', listener);
  try {
    await fn();
  } finally {
    process.off('warning', listener);
  }
  return seen;
}

async function roundTrip(drt: DistributedRuntime, name: string): Promise<string> {
  const ep = drt.namespace('tls').component(name).endpoint('e');
  await ep.serve(() => `served over ${name}`);
  const client = await ep.client();
  await client.waitForInstances(1);
  return (await client.request({})).text();
}

test('NATS over mutual TLS with a private CA: material as paths, as PEM text, and through the flags of a command', async (t) => {
  const defer = cleanups(t);
  const ca = privateCa();
  const nats = await startNats(['--tls', '--tlscert', ca.server.cert, '--tlskey', ca.server.key, '--tlscacert', ca.ca, '--tlsverify']);
  defer(() => nats.stop());
  const etcd = await startEtcd();
  defer(() => etcd.stop());
  const server = `tls://127.0.0.1:${nats.port}`;
  const base = { NATS_SERVER: server, ETCD_ENDPOINTS: etcd.url };

  const warnings = await warningsDuring(async () => {
    const byPath = await DistributedRuntime.connect({
      env: { ...base, NATS_CA: ca.ca, NATS_CERT: ca.client.cert, NATS_KEY: ca.client.key },
    });
    defer(() => byPath.shutdown());
    assert.equal(await roundTrip(byPath, 'paths'), 'served over paths');
    const byText = await DistributedRuntime.connect({
      env: { ...base, NATS_CA: ca.text(ca.ca), NATS_CERT: ca.text(ca.client.cert), NATS_KEY: ca.text(ca.client.key) },
    });
    defer(() => byText.shutdown());
    assert.equal(await roundTrip(byText, 'text'), 'served over text');
  });
  assert.deepEqual(
    warnings.filter((w) => /DEP0123|ServerName/i.test(w)),
    [],
  );

  // no client certificate: the server refuses it; no CA: the server's certificate is not trusted
  for (const [env, cause] of [
    [{ NATS_CA: ca.ca }, /certificate|handshake|closed|timeout|connection/i],
    [{ NATS_CERT: ca.client.cert, NATS_KEY: ca.client.key }, /self[- ]signed|unable to verify|certificate/i],
  ] as const) {
    await assert.rejects(DistributedRuntime.connect({ env: { ...base, ...env }, connectTimeoutMs: 3000 }), (err: unknown) => {
      assert.ok(err instanceof NatsUnavailableError, String(err));
      assert.match(err.message, cause);
      assert.equal(err.message.split('\n').length, 1);
      return true;
    });
  }
  // half a client identity is a one-line error before connecting; the key is never echoed
  await assert.rejects(
    DistributedRuntime.connect({ env: { ...base, NATS_CA: ca.ca, NATS_KEY: ca.text(ca.client.key) } }),
    (err: unknown) => {
      assert.ok(err instanceof NatsUnavailableError);
      assert.match(err.message, /needs both a certificate .* and its key/);
      assert.ok(!err.message.includes('PRIVATE KEY'));
      return true;
    },
  );

  // the commands: a worker with the environment's names, the aggregator with the flags
  const cluster = { nats: { url: server }, etcd };
  const worker = await startMockWorker(cluster, [...TARGET], { NATS_CA: ca.ca, NATS_CERT: ca.client.cert, NATS_KEY: ca.client.key });
  defer(() => worker.proc.stop());
  const metrics = await startMetrics(cluster, ['--nats-tls-ca', ca.ca, '--nats-tls-cert', ca.client.cert, '--nats-tls-key', ca.client.key]);
  defer(() => metrics.proc.stop());
  const id = worker.ids[0]!.toString();
  await waitForScrape(metrics, 'the TLS worker in a scrape', (text) => text.includes(`worker_id="${id}"`));
  for (const out of [worker.proc.output(), metrics.proc.output()]) {
    assert.doesNotMatch(out, /DEP0123|DeprecationWarning|BEGIN .*PRIVATE KEY/);
  }
});

test("NATS over TLS trusted through SSL_CERT_FILE or SSL_CERT_DIR, as in Dynamo's Rust processes; a plain server stays plain", async (t) => {
  const defer = cleanups(t);
  const ca = privateCa();
  // TLS required by the server, a nats:// URL (the only scheme Dynamo's runtime accepts)
  const [nats, plain, etcd] = await Promise.all([
    startNats(['--tls', '--tlscert', ca.server.cert, '--tlskey', ca.server.key]),
    startNats(),
    startEtcd(),
  ]);
  for (const s of [nats, plain, etcd]) defer(() => s.stop());
  const overTls = { NATS_SERVER: `nats://127.0.0.1:${nats.port}`, ETCD_ENDPOINTS: etcd.url };
  // an OpenSSL-style directory: a hashed name, a file that is no certificate, a subdirectory
  const dir = join(ca.dir, 'certs');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  copyFileSync(ca.ca, join(dir, 'a1b2c3d4.0'));
  writeFileSync(join(dir, 'README'), 'not a certificate\n');

  for (const [name, env] of [
    ['file', { SSL_CERT_FILE: ca.ca }],
    ['dirs', { SSL_CERT_DIR: `${join(ca.dir, 'absent')}:${dir}` }],
  ] as const) {
    const drt = await DistributedRuntime.connect({ env: { ...overTls, ...env } });
    defer(() => drt.shutdown());
    assert.equal(await roundTrip(drt, name), `served over ${name}`);
  }
  // without them the server's certificate is not trusted; NATS_CA wins over them
  for (const env of [{}, { NATS_CA: ca.server.cert, SSL_CERT_FILE: ca.ca }]) {
    await assert.rejects(DistributedRuntime.connect({ env: { ...overTls, ...env }, connectTimeoutMs: 3000 }), (err: unknown) => {
      assert.ok(err instanceof NatsUnavailableError, String(err));
      assert.match(err.message, /self[- ]signed|unable to (verify|get)|certificate/i);
      return true;
    });
  }
  // read only when TLS needs it: a plain server stays plain, even with a file that is not there
  const missing = join(ca.dir, 'missing.pem');
  const plainDrt = await DistributedRuntime.connect({
    env: { NATS_SERVER: plain.url, ETCD_ENDPOINTS: etcd.url, SSL_CERT_FILE: missing },
  });
  defer(() => plainDrt.shutdown());
  assert.equal(await roundTrip(plainDrt, 'plain'), 'served over plain');
  for (const [env, message] of [
    [{ SSL_CERT_FILE: missing }, /^SSL_CERT_FILE \S+missing\.pem cannot be read/],
    [{ SSL_CERT_DIR: join(dir, 'sub') }, /^SSL_CERT_DIR \S+ holds no certificate file/],
  ] as const) {
    await assert.rejects(DistributedRuntime.connect({ env: { ...overTls, ...env } }), (err: unknown) => {
      assert.ok(err instanceof NatsUnavailableError, String(err));
      assert.match(err.message, message);
      assert.equal(err.message.split('\n').length, 1);
      return true;
    });
  }
});

test('NATS NKEY seed from NATS_AUTH_NKEY; a bad seed is one line that does not echo it', async (t) => {
  const defer = cleanups(t);
  const user = nkeys.createUser();
  const seed = new TextDecoder().decode(user.getSeed());
  const conf = join(privateCa().dir, 'nkey.conf');
  writeFileSync(conf, `authorization { users = [ { nkey: ${user.getPublicKey()} } ] }\n`);
  const nats = await startNats(['-c', conf]);
  defer(() => nats.stop());
  const etcd = await startEtcd();
  defer(() => etcd.stop());
  const base = { NATS_SERVER: nats.url, ETCD_ENDPOINTS: etcd.url };

  const drt = await DistributedRuntime.connect({ env: { ...base, NATS_AUTH_NKEY: seed } });
  defer(() => drt.shutdown());
  assert.equal(await roundTrip(drt, 'nkey'), 'served over nkey');

  const stranger = new TextDecoder().decode(nkeys.createUser().getSeed());
  await assert.rejects(
    DistributedRuntime.connect({ env: { ...base, NATS_AUTH_NKEY: stranger }, connectTimeoutMs: 3000 }),
    (err: unknown) => {
      assert.ok(err instanceof NatsUnavailableError);
      assert.match(err.message, /authorization/i);
      assert.ok(!err.message.includes(stranger));
      return true;
    },
  );
  const garbled = `${seed.slice(0, -4)}AAAA`;
  await assert.rejects(DistributedRuntime.connect({ env: { ...base, NATS_AUTH_NKEY: garbled } }), (err: unknown) => {
    assert.ok(err instanceof NatsUnavailableError);
    assert.equal(err.message, 'NATS_AUTH_NKEY is not an NKEY seed (expected the SU… seed of a user key)');
    return true;
  });
});

test('etcd over mutual TLS to an IP address: ETCD_AUTH_* as PEM text or paths, no DEP0123', async (t) => {
  const defer = cleanups(t);
  const ca = privateCa();
  const etcd = await startEtcd({ tls: { cert: ca.server.cert, key: ca.server.key, ca: ca.ca } });
  defer(() => etcd.stop());
  const nats = await startNats();
  defer(() => nats.stop());
  assert.match(etcd.url, /^https:\/\/127\.0\.0\.1:/);
  const base = { NATS_SERVER: nats.url, ETCD_ENDPOINTS: etcd.url };

  const warnings = await warningsDuring(async () => {
    // PEM text, as Dynamo's deployments pass it
    const byText = await DistributedRuntime.connect({
      env: {
        ...base,
        ETCD_AUTH_CA: ca.text(ca.ca),
        ETCD_AUTH_CLIENT_CERT: ca.text(ca.client.cert),
        ETCD_AUTH_CLIENT_KEY: ca.text(ca.client.key),
      },
    });
    defer(() => byText.shutdown());
    assert.equal(await roundTrip(byText, 'etcd-text'), 'served over etcd-text');
    const byPath = await DistributedRuntime.connect({
      env: { ...base, ETCD_AUTH_CA: ca.ca, ETCD_AUTH_CLIENT_CERT: ca.client.cert, ETCD_AUTH_CLIENT_KEY: ca.client.key },
    });
    defer(() => byPath.shutdown());
    assert.equal(await roundTrip(byPath, 'etcd-paths'), 'served over etcd-paths');
  });
  assert.deepEqual(
    warnings.filter((w) => /DEP0123|ServerName/i.test(w)),
    [],
  );

  // a missing file names its path, not its contents; half an identity is refused before connecting
  await assert.rejects(DistributedRuntime.connect({ env: { ...base, ETCD_AUTH_CA: join(ca.dir, 'missing.pem') } }), (err: unknown) => {
    assert.ok(err instanceof EtcdUnavailableError);
    assert.match(err.message, /^etcd CA certificate \(ETCD_AUTH_CA\) .*missing\.pem cannot be read: /);
    return true;
  });
  await assert.rejects(
    DistributedRuntime.connect({ env: { ...base, ETCD_AUTH_CA: ca.ca, ETCD_AUTH_CLIENT_KEY: ca.text(ca.client.key) } }),
    (err: unknown) => {
      assert.ok(err instanceof EtcdUnavailableError);
      assert.match(err.message, /needs both ETCD_AUTH_CLIENT_CERT and ETCD_AUTH_CLIENT_KEY/);
      assert.ok(!err.message.includes('PRIVATE KEY'));
      return true;
    },
  );
});
