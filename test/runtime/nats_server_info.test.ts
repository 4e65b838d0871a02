/**
 * The server's first line, read before connecting: whether a NATS server requires TLS
 * (src/runtime/natsServerInfo.ts), by its pure parts and against real nats-servers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { DEFAULT_NATS_PORT, infoRequiresTls, natsHostPort, serverRequiresTls } from '../../src/runtime/natsServerInfo.ts';
import { cleanups, freePort } from '../support/process.ts';
import { startNats } from '../support/servers.ts';
import { privateCa } from '../support/tls.ts';

test('natsHostPort: nats:// and tls:// URLs and bare host:port; other schemes and empty hosts are none', () => {
  assert.deepEqual(natsHostPort('nats://10.0.0.1:4333'), { host: '10.0.0.1', port: 4333 });
  assert.deepEqual(natsHostPort('tls://nats.example'), { host: 'nats.example', port: DEFAULT_NATS_PORT });
  assert.deepEqual(natsHostPort('NATS://[::1]:4223'), { host: '::1', port: 4223 });
  assert.deepEqual(natsHostPort('127.0.0.1:4225'), { host: '127.0.0.1', port: 4225 });
  assert.equal(natsHostPort('ws://127.0.0.1:8080'), undefined);
  assert.equal(natsHostPort('wss://127.0.0.1:443'), undefined);
  assert.equal(natsHostPort('nats://'), undefined);
  assert.equal(natsHostPort('nats://bad host:1'), undefined);
});

test('infoRequiresTls: the INFO line decides; anything else says nothing', () => {
  assert.equal(infoRequiresTls('INFO {"server_id":"x","tls_required":true,"max_payload":1048576}'), true);
  assert.equal(infoRequiresTls('INFO  {"tls_required":true} '), true);
  assert.equal(infoRequiresTls('INFO {"tls_available":true}'), false, 'TLS offered, not required: nats.js upgrades on its own');
  assert.equal(infoRequiresTls('INFO {"tls_required":"true"}'), false);
  assert.equal(infoRequiresTls('INFO {}'), false);
  assert.equal(infoRequiresTls("-ERR 'Authorization Violation'"), undefined);
  assert.equal(infoRequiresTls('INFO {"tls_required":true'), undefined);
  assert.equal(infoRequiresTls('INFO [true]'), undefined);
  assert.equal(infoRequiresTls('info {"tls_required":true}'), undefined);
  assert.equal(infoRequiresTls('HTTP/1.1 400 Bad Request'), undefined);
});

test('serverRequiresTls against real nats-servers, a closed port and a server that never speaks', async (t) => {
  const defer = cleanups(t);
  const ca = privateCa();
  const [plain, tls] = await Promise.all([startNats(), startNats(['--tls', '--tlscert', ca.server.cert, '--tlskey', ca.server.key])]);
  defer(() => plain.stop());
  defer(() => tls.stop());
  assert.equal(await serverRequiresTls(`nats://127.0.0.1:${plain.port}`, 3000), false);
  assert.equal(await serverRequiresTls(`nats://127.0.0.1:${tls.port}`, 3000), true);
  assert.equal(await serverRequiresTls(`tls://127.0.0.1:${tls.port}`, 3000), true);
  assert.equal(await serverRequiresTls(`nats://127.0.0.1:${await freePort()}`, 3000), undefined);
  const silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  defer(() => new Promise<void>((resolve) => silent.close(() => resolve())));
  silent.on('connection', (socket) => defer(() => socket.destroy()));
  const { port } = silent.address() as { port: number };
  assert.equal(await serverRequiresTls(`nats://127.0.0.1:${port}`, 200), undefined, 'no INFO within the timeout');
});
