/**
 * The process's own metrics, on every process that exports (the aggregator, a worker's status
 * server, any embedding program), named as prom-client's default metrics and every Prometheus
 * client library name them: `process_*` (CPU, memory, file descriptors, start time), `nodejs_*`
 * (event-loop delay, heap, version), and `dynamo_metrics_build_info{version,node_version}`.
 * Read at collection; the event-loop delay is sampled by Node (`monitorEventLoopDelay`) and
 * reported over the latest complete window, so every reader sees the same figures.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Meter } from '@opentelemetry/api';

/** Length of one event-loop delay window. */
export const EVENT_LOOP_WINDOW_MS = 10_000;
/** Resolution of the event-loop delay sampling (Node's default is 10 ms). */
export const EVENT_LOOP_RESOLUTION_MS = 10;

/** The event-loop delay over the latest complete window, in seconds. */
export interface LoopDelay {
  mean: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p99: number;
}

const NS = 1e-9;

/** Summarizes one window of Node's delay histogram (nanoseconds) in seconds; undefined for an empty window. */
export function loopDelayOf(h: Pick<IntervalHistogram, 'count' | 'mean' | 'min' | 'max' | 'percentile'>): LoopDelay | undefined {
  if (h.count === 0) return undefined;
  return {
    mean: h.mean * NS,
    min: h.min * NS,
    max: h.max * NS,
    p50: h.percentile(50) * NS,
    p90: h.percentile(90) * NS,
    p99: h.percentile(99) * NS,
  };
}

/** `Max open files` (the soft limit) from the text of `/proc/self/limits`. */
export function maxOpenFiles(limits: string): number | undefined {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
  if (m === null || m[1] === 'unlimited') return undefined;
  return Number(m[1]);
}

/** The virtual memory size in bytes (field 23, `vsize`) from the text of `/proc/self/stat`. */
export function virtualMemoryBytes(stat: string): number | undefined {
  // the command name (field 2) may hold spaces and parentheses: count from the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const v = Number(fields[20]);
  return Number.isFinite(v) ? v : undefined;
}

function readOr<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined; // not Linux, or /proc not mounted: the metric is left out
  }
}

/** Samples the event-loop delay in windows; `latest` is the last complete one. */
class LoopDelayWindows {
  latest: LoopDelay | undefined;
  private readonly histogram = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });

  constructor() {
    this.histogram.enable();
    setInterval(() => {
      this.latest = loopDelayOf(this.histogram);
      this.histogram.reset();
    }, EVENT_LOOP_WINDOW_MS).unref();
  }
}

let windows: LoopDelayWindows | undefined;

/** Registers the process metrics on `meter`; `version` is the package's. */
export function observeProcessMetrics(meter: Meter, version: string): void {
  windows ??= new LoopDelayWindows();
  const loop = windows;
  const startTime = Math.round(Date.now() / 1000 - process.uptime());
  const nodeVersion = process.versions.node;
  const [major = '', minor = '', patch = ''] = nodeVersion.split('.');
  const buildAttrs = { version, node_version: nodeVersion };
  const nodeAttrs = { version: `v${nodeVersion}`, major, minor, patch };
  const gauge = (name: string, description: string) => meter.createObservableGauge(name, { description });
  const counter = (name: string, description: string) => meter.createObservableCounter(name, { description });
  const cpuUser = counter('process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.');
  const cpuSystem = counter('process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.');
  const cpu = counter('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.');
  const start = gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.');
  const rss = gauge('process_resident_memory_bytes', 'Resident memory size in bytes.');
  const virtual = gauge('process_virtual_memory_bytes', 'Virtual memory size in bytes.');
  const fds = gauge('process_open_fds', 'Number of open file descriptors.');
  const maxFds = gauge('process_max_fds', 'Maximum number of open file descriptors.');
  const lag = gauge('nodejs_eventloop_lag_seconds', 'Mean event loop delay in seconds over the latest window.');
  const lagMin = gauge('nodejs_eventloop_lag_min_seconds', 'The minimum recorded event loop delay.');
  const lagMax = gauge('nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay.');
  const lagP50 = gauge('nodejs_eventloop_lag_p50_seconds', 'The 50th percentile of the recorded event loop delays.');
  const lagP90 = gauge('nodejs_eventloop_lag_p90_seconds', 'The 90th percentile of the recorded event loop delays.');
  const lagP99 = gauge('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays.');
  const heapTotal = gauge('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.');
  const heapUsed = gauge('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.');
  const external = gauge('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.');
  const nodeInfo = gauge('nodejs_version_info', 'Node.js version info.');
  const buildInfo = gauge(
    'dynamo_metrics_build_info',
    'A metric with a constant 1 labelled by the version of dynamo-otel-metrics and of Node.js.',
  );
  meter.addBatchObservableCallback(
    (r) => {
      const usage = process.cpuUsage();
      r.observe(cpuUser, usage.user / 1e6);
      r.observe(cpuSystem, usage.system / 1e6);
      r.observe(cpu, (usage.user + usage.system) / 1e6);
      r.observe(start, startTime);
      const mem = process.memoryUsage();
      r.observe(rss, mem.rss);
      r.observe(heapTotal, mem.heapTotal);
      r.observe(heapUsed, mem.heapUsed);
      r.observe(external, mem.external);
      const vsize = readOr(() => virtualMemoryBytes(readFileSync('/proc/self/stat', 'utf8')));
      if (vsize !== undefined) r.observe(virtual, vsize);
      const open = readOr(() => readdirSync('/proc/self/fd').length);
      if (open !== undefined) r.observe(fds, open);
      const max = readOr(() => maxOpenFiles(readFileSync('/proc/self/limits', 'utf8')));
      if (max !== undefined) r.observe(maxFds, max);
      const d = loop.latest;
      if (d !== undefined) {
        r.observe(lag, d.mean);
        r.observe(lagMin, d.min);
        r.observe(lagMax, d.max);
        r.observe(lagP50, d.p50);
        r.observe(lagP90, d.p90);
        r.observe(lagP99, d.p99);
      }
      r.observe(nodeInfo, 1, nodeAttrs);
      r.observe(buildInfo, 1, buildAttrs);
    },
    [
      cpuUser,
      cpuSystem,
      cpu,
      start,
      rss,
      virtual,
      fds,
      maxFds,
      lag,
      lagMin,
      lagMax,
      lagP50,
      lagP90,
      lagP99,
      heapTotal,
      heapUsed,
      external,
      nodeInfo,
      buildInfo,
    ],
  );
}
