/**
 * The aggregator's pull server under many scrapers and hostile clients, against real servers and
 * 2,000 mock workers: a storm of 100 concurrent scrapes is answered in full with bounded memory
 * (one collection and rendering shared by all); clients that pipeline requests and never read
 * are cut (counted) without harm to a normal scrape; a client that never finishes its headers is
 * closed after the header timeout; connections beyond the cap are refused, counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { waitUntil } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { startMetrics, startMockWorker, waitForScrape, type MetricsProcess } from '../support/aggregator.ts';
import { sample, series } from '../support/exposition.ts';

const WORKERS = 2_000;

/** Resident memory of a process, from /proc (bytes). */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** Samples `pid`'s RSS every 10 ms while `work` runs; the peak. */
async function peakRss<T>(pid: number, work: () => Promise<T>): Promise<{ peak: number; result: T }> {
  let peak = rss(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rss(pid));
  }, 10);
  try {
    const result = await work();
    return { peak: Math.max(peak, rss(pid)), result };
  } finally {
    clearInterval(timer);
  }
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

/** Resolves when the server has closed `s` (reading it, so that its end is seen). */
function closed(s: Socket): Promise<void> {
  s.resume();
  return new Promise((resolve) => {
    if (s.destroyed || s.readyState === 'closed') resolve();
    s.once('close', () => resolve());
  });
}

async function cluster2000(t: import('node:test').TestContext, extra: string[]): Promise<MetricsProcess> {
  const { cluster, defer } = await testCluster(t);
  const w = await startMockWorker(cluster, ['--workers', String(WORKERS), '--hit-rate-interval', '1h']);
  defer(() => w.proc.stop(20_000));
  const m = await startMetrics(cluster, extra);
  defer(() => m.proc.stop());
  await waitForScrape(m, `${WORKERS} workers`, (x) => series(x, 'llm_kv_blocks_active').length === WORKERS, 120_000);
  return m;
}

test('100 concurrent scrapes of 2,000 workers: all answered in full, memory bounded, one collection shared', {
  timeout: 300_000,
}, async (t) => {
  // a long poll interval: the view does not change during the storm, as between two cycles
  const m = await cluster2000(t, ['--poll-interval', '30s']);
  for (let i = 0; i < 3; i++) await m.scrape(); // warm
  const idle = rss(m.proc.pid);
  const { peak, result } = await peakRss(m.proc.pid, () =>
    Promise.all(Array.from({ length: 100 }, async () => (await fetch(m.url, { headers: { 'Accept-Encoding': 'gzip' } })).text())),
  );
  t.diagnostic(
    `aggregator RSS idle ${(idle / 1048576).toFixed(0)} MiB, peak during 100 concurrent scrapes ${(peak / 1048576).toFixed(0)} MiB (${(peak / idle).toFixed(2)}x)`,
  );
  for (const text of result) assert.equal(series(text, 'llm_kv_blocks_active').length, WORKERS, 'every scrape complete');
  assert.ok(peak <= idle * 1.5, `peak RSS ${(peak / 1048576).toFixed(0)} MiB within 1.5x idle ${(idle / 1048576).toFixed(0)} MiB`);
});

test('clients that pipeline scrapes and never read are cut; a normal scrape meanwhile is answered', { timeout: 300_000 }, async (t) => {
  const m = await cluster2000(t, [
    '--prometheus-max-unread-bytes',
    String(4 * 1024 * 1024),
    '--prometheus-write-timeout',
    '5s',
    '--prometheus-header-timeout',
    '1s',
  ]);
  const body = await m.scrape();
  assert.ok(body.length > 1024 * 1024, `the exposition is large (${body.length} bytes)`);
  // 20 clients, each asking for 50 expositions in one write and reading none
  const hogs = await Promise.all(Array.from({ length: 20 }, () => open(m.port)));
  for (const s of hogs) {
    s.pause();
    s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(50));
  }
  // a paused socket does not see its end: ask the server how many it cut
  const cutOf = (x: string): number =>
    (sample(x, 'dynamo_metrics_http_connections_cut_total', { reason: 'unread_bytes' }) ?? 0) +
    (sample(x, 'dynamo_metrics_http_connections_cut_total', { reason: 'write_timeout' }) ?? 0);
  const h0 = performance.now();
  // meanwhile a normal scrape is answered whole
  const during = await m.scrape();
  assert.equal(series(during, 'llm_kv_blocks_active').length, WORKERS, 'a normal scrape while the hogs hold their connections is whole');
  // cut either when one asks for more with too much unread, or when an answer sits untaken past the write timeout
  const text = await waitUntil(
    'every hog cut',
    async () => {
      const x = await m.scrape();
      return cutOf(x) >= 20 ? x : undefined;
    },
    60_000,
    250,
  );
  t.diagnostic(
    `20 non-reading clients cut within ${((performance.now() - h0) / 1000).toFixed(1)} s (write timeout 5 s): unread_bytes ${sample(text, 'dynamo_metrics_http_connections_cut_total', { reason: 'unread_bytes' }) ?? 0}, write_timeout ${sample(text, 'dynamo_metrics_http_connections_cut_total', { reason: 'write_timeout' }) ?? 0}`,
  );
  for (const s of hogs) s.destroy();
  assert.equal(series(text, 'llm_kv_blocks_active').length, WORKERS, 'a normal scrape after the hogs is whole');
  // a client sending half its headers and nothing more is closed after the header timeout
  const slow = await open(m.port);
  slow.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
  const t0 = performance.now();
  await closed(slow);
  t.diagnostic(`slow-header client closed after ${(performance.now() - t0).toFixed(0)} ms (header timeout 1 s)`);
  assert.ok(m.proc.running);
});

test('connections beyond --prometheus-max-connections are refused and counted', { timeout: 300_000 }, async (t) => {
  const m = await cluster2000(t, ['--prometheus-max-connections', '8']);
  const idle = await Promise.all(Array.from({ length: 8 }, () => open(m.port)));
  const extra = await Promise.all(Array.from({ length: 4 }, () => open(m.port)));
  await Promise.all(extra.map(closed)); // refused at accept: closed by the server
  for (const s of idle) s.destroy();
  await waitUntil(
    'the idle connections closed',
    async () => {
      const text = await m.scrape().catch(() => undefined);
      return text !== undefined && (sample(text, 'dynamo_metrics_http_connections_cut_total', { reason: 'max_connections' }) ?? 0) >= 4
        ? text
        : undefined;
    },
    20_000,
    100,
  );
});
