/**
 * Prometheus text format 0.0.4, or OpenMetrics 1.0 when asked, from OTel `ResourceMetrics`,
 * Prometheus-native (docs/metrics.md): no scope labels or `target_info` unless asked, no
 * `# UNIT` lines, one HELP/TYPE block per name even when two scopes share it, counter samples
 * ending in `_total` (in OpenMetrics the family name has no `_total`, and the text ends with
 * `# EOF`), label values escaped. Pure: no I/O. Used by the pull server and the PushGateway push.
 */
import { diag, type Attributes } from '@opentelemetry/api';
import { DataPointType, type DataPoint, type Histogram, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';

export interface PrometheusSerializerOptions {
  /** Add `otel_scope_name`/`otel_scope_version` labels. @default false */
  scopeLabels?: boolean;
  /** Prepend `target_info` with the resource attributes. @default false */
  targetInfo?: boolean;
  /** OpenMetrics 1.0 text instead of 0.0.4. @default false */
  openMetrics?: boolean;
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/**
 * Whether a scraper's `Accept` header prefers OpenMetrics 1.0 (Prometheus asks for it first by
 * default) over the 0.0.4 text: the media type with the highest q value wins, 0.0.4 on a tie.
 */
export function acceptsOpenMetrics(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  let om = -1;
  let text = -1;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((x) => x.trim().toLowerCase());
    const q = Number(params.find((p) => p.startsWith('q='))?.slice(2) ?? '1');
    const version = params.find((p) => p.startsWith('version='))?.slice(8);
    if (type === 'application/openmetrics-text' && (version === undefined || version === '1.0.0')) om = Math.max(om, q);
    else if (type === 'text/plain' || type === '*/*') text = Math.max(text, q);
  }
  return om > 0 && om > text;
}

const INVALID_NAME_CHARS = /[^a-zA-Z0-9_:]/g;
const INVALID_LABEL_CHARS = /[^a-zA-Z0-9_]/g;

export function sanitizeMetricName(name: string): string {
  const s = name.replace(INVALID_NAME_CHARS, '_');
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

/**
 * How the Collector's Prometheus translation spells units in a name (UCUM → word), from its
 * `pkg/translator/prometheus` (`unitMap`, and `perUnitMap` for what follows a `/`).
 */
const UNIT_WORDS: ReadonlyMap<string, string> = new Map([
  ['d', 'days'],
  ['h', 'hours'],
  ['min', 'minutes'],
  ['s', 'seconds'],
  ['ms', 'milliseconds'],
  ['us', 'microseconds'],
  ['ns', 'nanoseconds'],
  ['By', 'bytes'],
  ['KiBy', 'kibibytes'],
  ['MiBy', 'mebibytes'],
  ['GiBy', 'gibibytes'],
  ['TiBy', 'tibibytes'],
  ['KBy', 'kilobytes'],
  ['MBy', 'megabytes'],
  ['GBy', 'gigabytes'],
  ['TBy', 'terabytes'],
  ['m', 'meters'],
  ['V', 'volts'],
  ['A', 'amperes'],
  ['J', 'joules'],
  ['W', 'watts'],
  ['g', 'grams'],
  ['Cel', 'celsius'],
  ['Hz', 'hertz'],
  ['1', ''],
  ['%', 'percent'],
]);
const PER_UNIT_WORDS: ReadonlyMap<string, string> = new Map([
  ['s', 'second'],
  ['m', 'minute'],
  ['h', 'hour'],
  ['d', 'day'],
  ['w', 'week'],
  ['mo', 'month'],
  ['y', 'year'],
]);

/** Letters and digits only, runs of anything else as one `_` (the Collector's `CleanUpString`). */
function cleanUp(s: string): string {
  return s
    .split(/[^\p{L}\p{N}]+/u)
    .filter((x) => x !== '')
    .join('_');
}

/** One side of a unit in words: none when empty or an annotation in braces (`{token}`). */
function side(part: string | undefined, words: ReadonlyMap<string, string>): string {
  const p = part?.trim() ?? '';
  return p === '' || /[{}]/.test(p) ? '' : cleanUp(words.get(p) ?? p);
}

/** The unit in words as the Collector appends it: `bytes`, `bytes_per_second`, `per_second`. */
function unitWords(unit: string): string {
  const slash = unit.indexOf('/');
  const main = side(slash < 0 ? unit : unit.slice(0, slash), UNIT_WORDS);
  const per = slash < 0 ? '' : side(unit.slice(slash + 1), PER_UNIT_WORDS);
  return per === '' ? main : main === '' ? `per_${per}` : `${main}_per_${per}`;
}

/**
 * The exposition name of a metric. An OTel-style dotted name (`gen_ai.server.time_to_first_token`,
 * unit `s`) is translated as the Collector's Prometheus exporter does: dots to underscores, the
 * unit appended in words (`_seconds`) unless the name ends with it, `_ratio` for a gauge of unit
 * `1`. Prometheus-style names (no dot) already say their unit and are kept as they are. The
 * counter `_total` is added by the caller.
 */
export function exposedName(name: string, unit: string, type: 'counter' | 'gauge' | 'histogram'): string {
  const base = sanitizeMetricName(name);
  if (!name.includes('.')) return base;
  let out = base.replace(/__+/g, '_');
  const suffix = unit === '1' ? (type === 'gauge' ? 'ratio' : '') : unitWords(unit);
  if (suffix !== '' && !out.endsWith(`_${suffix}`)) out += `_${suffix}`;
  return out;
}

export function sanitizeLabelName(name: string): string {
  const s = name.replace(INVALID_LABEL_CHARS, '_');
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string, openMetrics: boolean): string {
  const s = v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return openMetrics ? s.replace(/"/g, '\\"') : s;
}

export function formatValue(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** `{a="1",b="2"}` (or '' without labels); `extra` is appended, already formatted (`k="v"`). */
function labels(attrs: Attributes, extra: string): string {
  let s = '';
  for (const k in attrs) {
    const v = attrs[k];
    if (v === undefined) continue;
    const str = typeof v === 'string' ? v : JSON.stringify(v);
    s += `${s === '' ? '' : ','}${sanitizeLabelName(k)}="${escapeLabelValue(str)}"`;
  }
  if (extra !== '') s += s === '' ? extra : `,${extra}`;
  return s === '' ? '' : `{${s}}`;
}

function promType(m: MetricData): 'counter' | 'gauge' | 'histogram' | undefined {
  switch (m.dataPointType) {
    case DataPointType.SUM:
      return m.isMonotonic ? 'counter' : 'gauge';
    case DataPointType.GAUGE:
      return 'gauge';
    case DataPointType.HISTOGRAM:
      return 'histogram';
    default:
      return undefined; // exponential histograms have no 0.0.4 form
  }
}

interface Block {
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  body: string;
}

function histogramLines(name: string, p: DataPoint<Histogram>, extra: string): string {
  const h = p.value;
  const base = labels(p.attributes, extra);
  const withLe = (le: string): string => (base === '' ? `{le="${le}"}` : `${base.slice(0, -1)},le="${le}"}`);
  let out = '';
  let cumulative = 0;
  const { boundaries, counts } = h.buckets;
  for (let i = 0; i < boundaries.length; i++) {
    cumulative += counts[i] ?? 0;
    // biome-ignore lint/style/noNonNullAssertion: i < boundaries.length
    out += `${name}_bucket${withLe(formatValue(boundaries[i]!))} ${cumulative}\n`;
  }
  out += `${name}_bucket${withLe('+Inf')} ${h.count}\n`;
  out += `${name}_sum${base} ${formatValue(h.sum ?? 0)}\n`;
  out += `${name}_count${base} ${h.count}\n`;
  return out;
}

/** How many data points are written between two yields to the event loop. */
export const SERIALIZE_CHUNK_POINTS = 1_000;

/**
 * The serializer as a generator: it yields (nothing) after every `SERIALIZE_CHUNK_POINTS` data
 * points and returns the text, so the async variant can let the event loop breathe on large
 * expositions.
 */
function* serializeSteps(rm: ResourceMetrics, opts: PrometheusSerializerOptions, whole = true): Generator<void, Fragment> {
  const blocks = new Map<string, Block>();
  let points = 0;
  for (const sm of rm.scopeMetrics) {
    const extra = opts.scopeLabels
      ? `otel_scope_name="${escapeLabelValue(sm.scope.name)}"${sm.scope.version ? `,otel_scope_version="${escapeLabelValue(sm.scope.version)}"` : ''}`
      : '';
    for (const m of sm.metrics) {
      const type = promType(m);
      if (type === undefined) continue;
      let name = exposedName(m.descriptor.name, m.descriptor.unit, type);
      if (type === 'counter' && !name.endsWith('_total')) name += '_total';
      let block = blocks.get(name);
      if (block === undefined) {
        block = { type, help: m.descriptor.description, body: '' };
        blocks.set(name, block);
      } else if (block.type !== type) {
        diag.warn(`metric ${name} is a ${type} in scope ${sm.scope.name} but a ${block.type} elsewhere; dropped from the exposition`);
        continue;
      }
      if (type === 'histogram') {
        for (const p of m.dataPoints as DataPoint<Histogram>[]) {
          block.body += histogramLines(name, p, extra);
          if (++points % SERIALIZE_CHUNK_POINTS === 0) yield;
        }
      } else {
        for (const p of m.dataPoints as DataPoint<number>[]) {
          block.body += `${name}${labels(p.attributes, extra)} ${formatValue(p.value)}\n`;
          if (++points % SERIALIZE_CHUNK_POINTS === 0) yield;
        }
      }
    }
  }
  let out = '';
  const names: string[] = [];
  if (opts.targetInfo) {
    out += `# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info${labels(rm.resource.attributes, '')} 1\n`;
    names.push('target_info');
  }
  const om = opts.openMetrics === true;
  for (const [name, b] of blocks) {
    if (b.body === '') continue; // a name with no series is left out, as Prometheus clients do
    // OpenMetrics names a counter family without the `_total` its sample carries
    const family = om && b.type === 'counter' ? name.slice(0, -'_total'.length) : name;
    out += `# HELP ${family} ${escapeHelp(b.help || name, om)}\n# TYPE ${family} ${b.type}\n${b.body}`;
    names.push(name);
  }
  return { text: om && whole ? `${out}${OPENMETRICS_EOF}` : out, names };
}

/** The last line of an OpenMetrics exposition. */
export const OPENMETRICS_EOF = '# EOF\n';

/** Part of an exposition: its text (no `# EOF`) and the names of the families it holds. */
export interface Fragment {
  text: string;
  names: string[];
}

function runSync(steps: Generator<void, Fragment>): Fragment {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

async function runAsync(steps: Generator<void, Fragment>): Promise<Fragment> {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Serializes every metric of `rm` in one go. */
export function serializePrometheus(rm: ResourceMetrics, opts: PrometheusSerializerOptions = {}): string {
  return runSync(serializeSteps(rm, opts)).text;
}

/** The same text, yielding to the event loop between chunks so that a large scrape never stalls it. */
export async function serializePrometheusAsync(rm: ResourceMetrics, opts: PrometheusSerializerOptions = {}): Promise<string> {
  return (await runAsync(serializeSteps(rm, opts))).text;
}

/**
 * One part of an exposition, without the OpenMetrics `# EOF`: expositions made of parts whose
 * family names are disjoint can be concatenated (then `# EOF` appended once).
 */
export function serializeFragmentAsync(rm: ResourceMetrics, opts: PrometheusSerializerOptions = {}): Promise<Fragment> {
  return runAsync(serializeSteps(rm, opts, false));
}
