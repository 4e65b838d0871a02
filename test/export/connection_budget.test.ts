/**
 * Half-sent requests cannot keep Prometheus out (docs/exporting.md, "Limits"): one source holds at
 * most its share of connections, and at the global cap a newcomer from a lighter source takes the
 * place of the heaviest source's longest-idle connection. The rule alone, then a real server under
 * 600 half-sent requests from ten loopback addresses while a scraper from another one scrapes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { ConnectionBudget } from '../../src/export/ConnectionBudget.ts';
import { loadExportConfig } from '../../src/export/options.ts';
import { MetricsPipeline } from '../../src/export/index.ts';
import { DEFAULT_MAX_CONNECTIONS } from '../../src/export/httpLimits.ts';
import { freePort, sleep, waitUntil } from '../support/process.ts';

test('a source holds at most its share; at the cap the heaviest source gives up its longest-idle connection', () => {
  const b = new ConnectionBudget(4, 3);
  assert.deepEqual(b.admit('a1', 'A'), { admit: true });
  assert.deepEqual(b.admit('a2', 'A'), { admit: true });
  assert.deepEqual(b.admit('a3', 'A'), { admit: true });
  assert.deepEqual(b.admit('a4', 'A'), { admit: false, reason: 'max_connections_per_source' });
  assert.deepEqual(b.admit('b1', 'B'), { admit: true });
  assert.equal(b.size, 4);
  // full: C takes A's longest-idle place; a connection answering a request is never taken
  b.busy('a1', 1);
  assert.deepEqual(b.admit('c1', 'C'), { admit: true, evict: 'a2' });
  assert.equal(b.size, 4);
  // A (2) still holds as many as D after giving one up: D takes a3
  assert.deepEqual(b.admit('d1', 'D'), { admit: true, evict: 'a3' });
  // A, B, C and D hold one each: none is heavier than E would be
  assert.deepEqual(b.admit('e1', 'E'), { admit: false, reason: 'max_connections' });
  b.busy('a1', -1);
  b.remove('b1');
  assert.deepEqual(b.admit('a5', 'A'), { admit: true }, 'a place was free');
  // a1, idle again since before a5 arrived, is A's longest idle
  assert.deepEqual(b.admit('g1', 'G'), { admit: true, evict: 'a1' });
  for (const id of ['a5', 'c1', 'd1', 'g1']) b.remove(id);
  assert.equal(b.size, 0);
});

/** One attacker's place: a connection that sends half a request, and again whenever it is closed. */
function halfSent(port: number, localAddress: string, running: () => boolean): void {
  const s: Socket = connect({ port, host: '127.0.0.1', localAddress });
  s.on('error', () => undefined);
  s.on('connect', () => s.write('GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: '));
  s.on('close', () => {
    if (running()) setTimeout(() => halfSent(port, localAddress, running), 5);
  });
  s.resume();
}

for (const [label, addresses] of [
  ['one address', 1],
  ['ten addresses', 10],
] as const) {
  test(`600 half-sent requests from ${label} against the default caps: every scrape from another address is answered`, {
    timeout: 120_000,
  }, async (t) => {
    const port = await freePort();
    const p = new MetricsPipeline(
      loadExportConfig({ argv: ['--prometheus-host', '127.0.0.1', '--prometheus-port', String(port)], env: {} }, { serviceName: 's' }),
      {
        global: false,
        processMetrics: false,
      },
    );
    await p.start();
    t.after(() => p.shutdown());
    let flooding = true;
    t.after(() => {
      flooding = false;
    });
    const sources = Array.from({ length: addresses }, (_, i) => `127.0.0.${i + 2}`);
    for (const src of sources) for (let i = 0; i < 600 / addresses; i++) halfSent(port, src, () => flooding);
    const cuts = (): Map<string, number> => p.health.connectionsCut;
    // the flood reaches the cap: connections are now being refused
    await waitUntil(
      'the flood to reach the cap',
      () => (cuts().get('max_connections') ?? 0) + (cuts().get('max_connections_per_source') ?? 0) > 0 || undefined,
      30_000,
    );

    let answered = 0;
    const failures: string[] = [];
    for (let i = 0; i < 20; i++) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
        await res.text();
        if (res.status === 200) answered++;
        else failures.push(`status ${res.status}`);
      } catch (err) {
        failures.push(String((err as Error).cause ?? err));
      }
      await sleep(100);
    }
    flooding = false;
    t.diagnostic(`cuts during the flood: ${JSON.stringify(Object.fromEntries(cuts()))}`);
    assert.deepEqual(failures, []);
    assert.equal(answered, 20);
    assert.ok(600 > DEFAULT_MAX_CONNECTIONS, 'the flood is over the global cap');
    assert.ok((cuts().get('evicted_idle') ?? 0) > 0, 'half-sent connections made room for the scraper');
  });
}
