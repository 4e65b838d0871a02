/**
 * The OpenTelemetry Collector's own config checks, for the components this project's Collector
 * configs use, written from the Collector's sources (there is no Collector binary here):
 *
 * - service/pipelines/config.go: a pipeline needs at least one receiver and one exporter; every
 *   component it names, and every extension the service names, must be defined.
 * - receiver/otlpreceiver/config.go: "must specify at least one protocol when using the OTLP receiver".
 * - internal/memorylimiter/config.go (memory_limiter): check_interval > 0; limit_mib or
 *   limit_percentage > 0; percentages at most 100; the spike limit below the limit.
 * - processor/batchprocessor/config.go: send_batch_max_size >= send_batch_size when set; timeout >= 0.
 * - exporter/otlphttpexporter/config.go: "at least one endpoint must be specified".
 * - exporter/prometheusexporter (prometheus.go, config.go): "expecting a non-blank address to run
 *   the Prometheus metrics handler"; translation_strategy one of the four it knows.
 * - exporter/debugexporter: verbosity basic, normal or detailed.
 *
 * `${env:NAME}` is expanded as the Collector expands it: an unset variable becomes "".
 * Several `--config` files merge as the Collector merges them: maps key by key, anything else
 * (lists included) replaced by the later file.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface CollectorConfig {
  receivers?: Obj;
  processors?: Obj;
  exporters?: Obj;
  extensions?: Obj;
  service: { extensions?: string[]; pipelines: Record<string, { receivers?: string[]; processors?: string[]; exporters?: string[] }> };
}

/** Replaces `${env:NAME}` (and `${NAME}`) in every string with `env[NAME]`, or "" when unset. */
export function expandEnv<T>(value: T, env: Record<string, string | undefined>): T {
  if (typeof value === 'string')
    return value.replace(/\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => env[name] ?? '') as T;
  if (Array.isArray(value)) return value.map((v) => expandEnv(v, env)) as T;
  if (isObj(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env)])) as T;
  return value;
}

/** `later` merged over `earlier`, as the Collector merges several config files. */
export function mergeConfigs(earlier: unknown, later: unknown): unknown {
  if (!isObj(earlier) || !isObj(later)) return later;
  const out: Obj = { ...earlier };
  for (const [k, v] of Object.entries(later)) out[k] = k in earlier ? mergeConfigs(earlier[k], v) : v;
  return out;
}

/** A Go duration (`1s`, `500ms`, `2m`) in milliseconds; NaN when it is not one. */
function durationMs(v: unknown): number {
  if (v === undefined) return 0;
  const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$/.exec(String(v));
  if (m === null) return Number.NaN;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return Number(m[1]) * unit[m[2]!]!;
}

const num = (v: unknown): number => (v === undefined || v === null ? 0 : Number(v));
const blank = (v: unknown): boolean => v === undefined || v === null || String(v).trim() === '';

const TRANSLATION_STRATEGIES = [
  'UnderscoreEscapingWithSuffixes',
  'UnderscoreEscapingWithoutSuffixes',
  'NoUTF8EscapingWithSuffixes',
  'NoTranslation',
];

/** What the Collector would say of one component's config (its type is the id before '/'). */
function componentErrors(kind: string, id: string, cfg: unknown): string[] {
  const c: Obj = isObj(cfg) ? cfg : {};
  const type = id.split('/')[0];
  const e: string[] = [];
  const at = `${kind}::${id}`;
  if (kind === 'receivers' && type === 'otlp') {
    const p = isObj(c.protocols) ? c.protocols : {};
    if (!('grpc' in p) && !('http' in p)) e.push(`${at}: must specify at least one protocol when using the OTLP receiver`);
  }
  if (kind === 'processors' && type === 'memory_limiter') {
    const limit = num(c.limit_mib);
    const pct = num(c.limit_percentage);
    if (!(durationMs(c.check_interval) > 0)) e.push(`${at}: 'check_interval' must be greater than zero`);
    else if (limit === 0 && pct === 0) e.push(`${at}: 'limit_mib' or 'limit_percentage' must be greater than zero`);
    else if (pct > 100 || num(c.spike_limit_percentage) > 100)
      e.push(`${at}: 'limit_percentage' and 'spike_limit_percentage' must be greater than zero and less than or equal to hundred`);
    else if (limit > 0 && limit <= num(c.spike_limit_mib)) e.push(`${at}: 'spike_limit_mib' must be smaller than 'limit_mib'`);
    else if (pct > 0 && pct <= num(c.spike_limit_percentage))
      e.push(`${at}: 'spike_limit_percentage' must be smaller than 'limit_percentage'`);
  }
  if (kind === 'processors' && type === 'batch') {
    const max = num(c.send_batch_max_size);
    if (max > 0 && max < num(c.send_batch_size ?? 8192)) e.push(`${at}: send_batch_max_size must be greater or equal to send_batch_size`);
    if (durationMs(c.timeout) < 0 || Number.isNaN(durationMs(c.timeout))) e.push(`${at}: timeout must be greater or equal to 0`);
  }
  if (kind === 'exporters' && type === 'otlphttp') {
    if (['endpoint', 'traces_endpoint', 'metrics_endpoint', 'logs_endpoint'].every((k) => blank(c[k])))
      e.push(`${at}: at least one endpoint must be specified`);
  }
  if (kind === 'exporters' && type === 'prometheus') {
    if (blank(c.endpoint)) e.push(`${at}: expecting a non-blank address to run the Prometheus metrics handler`);
    if (c.translation_strategy !== undefined && !TRANSLATION_STRATEGIES.includes(String(c.translation_strategy)))
      e.push(`${at}: invalid translation_strategy: ${String(c.translation_strategy)}`);
  }
  if (
    kind === 'exporters' &&
    type === 'debug' &&
    c.verbosity !== undefined &&
    !['basic', 'normal', 'detailed'].includes(String(c.verbosity))
  ) {
    e.push(`${at}: verbosity level "${String(c.verbosity)}" is not supported`);
  }
  return e;
}

/** Every error the Collector would refuse `cfg` with (empty: it starts). Components no pipeline uses are not built, so not validated. */
export function collectorConfigErrors(cfg: CollectorConfig): string[] {
  const e: string[] = [];
  const sections = { receivers: cfg.receivers ?? {}, processors: cfg.processors ?? {}, exporters: cfg.exporters ?? {} };
  for (const ext of cfg.service.extensions ?? [])
    if (!(ext in (cfg.extensions ?? {}))) e.push(`service::extensions: references extension "${ext}" which is not configured`);
  const used = new Set<string>();
  const pipelines = Object.entries(cfg.service.pipelines ?? {});
  if (pipelines.length === 0) e.push('service::pipelines: must have at least one pipeline');
  for (const [name, p] of pipelines) {
    if ((p.receivers ?? []).length === 0) e.push(`service::pipelines::${name}: must have at least one receiver`);
    if ((p.exporters ?? []).length === 0) e.push(`service::pipelines::${name}: must have at least one exporter`);
    for (const kind of ['receivers', 'processors', 'exporters'] as const) {
      for (const id of p[kind] ?? []) {
        if (!(id in sections[kind])) e.push(`service::pipelines::${name}: references ${kind.slice(0, -1)} "${id}" which is not configured`);
        else used.add(`${kind}\u0000${id}`);
      }
    }
  }
  for (const key of used) {
    const [kind, id] = key.split('\u0000') as [keyof typeof sections, string];
    e.push(...componentErrors(kind, id, sections[kind][id]));
  }
  return e;
}
