/**
 * The process metrics every exporting process serves: the /proc parsers alone, then a pipeline's
 * /metrics holding `process_*`, `nodejs_*` and `dynamo_metrics_build_info` with plausible values,
 * accepted by promtool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loopDelayOf, maxOpenFiles, virtualMemoryBytes } from '../../src/export/processMetrics.ts';
import { MetricsPipeline } from '../../src/export/MetricsPipeline.ts';
import { loadExportConfig } from '../../src/export/options.ts';
import { cleanups, freePort } from '../support/process.ts';
import { sample, series } from '../support/exposition.ts';
import { promtool } from '../support/promtool.ts';

test('/proc parsers: max open files, virtual memory with a command name holding spaces and parentheses', () => {
  const limits =
    'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1048576              1048576              files     \n';
  assert.equal(maxOpenFiles(limits), 1048576);
  assert.equal(maxOpenFiles('Max open files            unlimited            unlimited            files\n'), undefined);
  assert.equal(maxOpenFiles(''), undefined);
  // pid (comm) state ppid ... field 23 is vsize
  const stat = `4242 (node (x) y) S 1 ${Array.from({ length: 18 }, (_, i) => String(i + 5)).join(' ')} 123456789 77 0`;
  assert.equal(virtualMemoryBytes(stat), 123456789);
  assert.ok((virtualMemoryBytes(readFileSync('/proc/self/stat', 'utf8')) ?? 0) > 1e6, 'this process has more than 1 MB of address space');
  assert.ok((maxOpenFiles(readFileSync('/proc/self/limits', 'utf8')) ?? 0) > 0);
});

test('event-loop delay: nanoseconds to seconds, nothing for an empty window', () => {
  assert.equal(loopDelayOf({ count: 0, mean: 0, min: 0, max: 0, percentile: () => 0 }), undefined);
  const d = loopDelayOf({ count: 3, mean: 2e7, min: 1e7, max: 4e7, percentile: (p) => p * 1e6 })!;
  const expected = { mean: 0.02, min: 0.01, max: 0.04, p50: 0.05, p90: 0.09, p99: 0.099 };
  for (const [k, v] of Object.entries(expected)) assert.ok(Math.abs(d[k as keyof typeof d] - v) < 1e-12, `${k}: ${d[k as keyof typeof d]}`);
});

test('a pipeline serves process_*, nodejs_* and dynamo_metrics_build_info, accepted by promtool', async (t) => {
  const defer = cleanups(t);
  const port = await freePort();
  const p = new MetricsPipeline(
    loadExportConfig({ argv: ['--prometheus-host', '127.0.0.1', '--prometheus-port', String(port)], env: {} }, { serviceName: 'proc' }),
    { global: false },
  );
  await p.start();
  defer(() => p.shutdown());
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const rss = sample(text, 'process_resident_memory_bytes')!;
  assert.ok(Math.abs(rss - process.memoryUsage.rss()) < 64 * 2 ** 20, `resident memory ${rss} near this process's`);
  assert.ok((sample(text, 'process_cpu_seconds_total') ?? 0) > 0);
  const start = sample(text, 'process_start_time_seconds')!;
  assert.ok(Math.abs(start - (Date.now() / 1000 - process.uptime())) < 2, 'start time');
  assert.ok((sample(text, 'process_open_fds') ?? 0) > 2);
  assert.ok((sample(text, 'process_max_fds') ?? 0) >= (sample(text, 'process_open_fds') ?? 0));
  assert.ok((sample(text, 'nodejs_heap_size_used_bytes') ?? 0) > 0);
  const build = series(text, 'dynamo_metrics_build_info');
  assert.equal(build.length, 1);
  const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  assert.equal(build[0]!.labels.version, version);
  assert.equal(build[0]!.labels.node_version, process.versions.node);
  assert.equal(build[0]!.value, 1);
  assert.match(text, /^# TYPE process_cpu_seconds_total counter$/m);
  promtool(text);
});
