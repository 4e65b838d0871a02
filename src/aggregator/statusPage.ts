/**
 * The aggregator's status page (docs/status-page.md): `/` (the page, from `static/`),
 * `/api/status` (JSON it refreshes from at the poll interval), `/health` and `/live` (readiness.ts)
 * on the pull server, behind the same limits and basic auth as `/metrics`. Everything shown is
 * already exported as metrics; errors are redacted (ExportHealth) and no configuration value that
 * may hold a secret is shown.
 */
import type { IncomingMessage } from 'node:http';
import type { ExportHealth, ExporterStatus } from '../export/ExportHealth.ts';
import type { MetricsHttpServer, RouteAnswer } from '../export/MetricsHttpServer.ts';
import { jsonAnswer, PAGE_HEADERS, staticRoutes } from '../export/staticAssets.ts';
import type { AggregatorSet } from './AggregatorSet.ts';
import type { HistoryPoint } from './StatusHistory.ts';
import { healthBody } from './readiness.ts';
import { DEFAULT_POLL_INTERVAL_MS } from './options.ts';
import { parseStatusQuery, StatusQueryError, WorkerTable, workerRow, type StatusQuery, type WorkerRow } from './statusTable.ts';

export const STATUS_API_PATH = '/api/status';
export const HEALTH_PATH = '/health';
export const LIVE_PATH = '/live';

/** The page and its files: path → file under `static/`. */
export const AGGREGATOR_PAGE_FILES: Readonly<Record<string, string>> = {
  '/': 'status/aggregator.html',
  '/status/aggregator.js': 'status/aggregator.js',
  '/status/common.js': 'status/common.js',
  '/status/status.css': 'status/status.css',
  '/status/favicon.svg': 'status/favicon.svg',
};

/** What `/api/status` answers (docs/status-page.md lists each field). */
export interface AggregatorStatusBody {
  kind: 'aggregator';
  version: string;
  /** Unix seconds when this answer was made. */
  now: number;
  /** Every target of the process, in the order they joined. */
  targets: TargetSummary[];
  /** The target the rest of the answer describes (`?target=`, else the first); null while there is none. */
  target: { namespace: string; component: string; endpoint: string } | null;
  /** The aggregator listens for events, watches etcd and takes part in the election (readiness). */
  started: boolean;
  role: 'leader' | 'standby';
  poll_interval_ms: number;
  nats_connected: boolean;
  etcd_reachable: boolean;
  /** Why the worker series are not exported right now (a scrape leaves them out), or null. */
  view_problem: string | null;
  cycle: { count: number; last: number | null; duration_ms: number | null };
  load: { avg: number; std: number } | null;
  workers: { total: number; missing: number; matched: number; query: StatusQuery; rows: WorkerRow[] };
  history: HistoryPoint[];
  exporters: ExporterStatus[];
  events: { accepted: number; tracked_workers: number };
  rejections: {
    stats: Record<string, number>;
    events: Record<string, number>;
    workers_dropped: Record<string, number>;
    http_connections_cut: Record<string, number>;
    publish_failures: Record<string, number>;
  };
  aggregates_published: Record<string, number>;
}

/** One line per target in `/api/status`. */
export interface TargetSummary {
  path: string;
  role: 'leader' | 'standby';
  workers: number;
  load: { avg: number; std: number } | null;
  view_current: boolean;
}

/** `?target=` names no target of the process. */
export class UnknownTargetError extends StatusQueryError {}

export class AggregatorStatus {
  /** One worker table per target (each keeps its sorted rows while its view holds). */
  private readonly tables = new Map<string, WorkerTable>();
  private readonly startedAt = performance.now();

  constructor(
    private readonly set: AggregatorSet,
    private readonly exportHealth: ExportHealth,
    private readonly version: string,
  ) {}

  private summaries(): TargetSummary[] {
    return [...this.set.aggregators.values()].map((a) => ({
      path: a.path,
      role: a.health.leader ? 'leader' : 'standby',
      workers: a.view === undefined ? 0 : a.view.workers.size,
      load: a.view?.stats ?? null,
      view_current: a.viewCurrent,
    }));
  }

  /** The answer for `query`, about the target `path` names (else the first). Throws `UnknownTargetError`. */
  build(query: StatusQuery, path?: string): AggregatorStatusBody {
    const a = path === undefined ? this.set.first : this.set.aggregators.get(path);
    if (a === undefined && path !== undefined)
      throw new UnknownTargetError(`target ${JSON.stringify(path)} is not followed by this process`);
    if (a === undefined) return this.noTarget(query);
    let table = this.tables.get(a.path);
    if (table === undefined) {
      table = new WorkerTable();
      this.tables.set(a.path, table);
    }
    const h = a.health;
    const view = a.view;
    const tracker = a.tracker;
    const page =
      view === undefined
        ? { total: 0, matched: 0, rows: [] }
        : table.page(
            a.metrics.versionOf(view),
            () => {
              const rows: WorkerRow[] = [];
              for (const [id, w] of view.workers) rows.push(workerRow(id, w, tracker.get(id), a.missedCycles(id)));
              return rows;
            },
            query,
          );
    const { namespace, component, endpoint } = a.opts;
    const rejectedEvents = Object.fromEntries(a.intake.hitRateRejected);
    return {
      kind: 'aggregator',
      version: this.version,
      now: Date.now() / 1000,
      targets: this.summaries(),
      target: { namespace, component, endpoint },
      started: a.started,
      role: h.leader ? 'leader' : 'standby',
      poll_interval_ms: a.pollIntervalMs,
      nats_connected: h.natsConnected,
      etcd_reachable: h.etcdReachable,
      view_problem: a.viewProblem() ?? null,
      cycle: { count: h.cycles, last: h.lastCycleUnixSeconds ?? null, duration_ms: h.lastCycleMs ?? null },
      load: view?.stats ?? null,
      workers: { total: page.total, missing: view === undefined ? 0 : h.workersMissing, matched: page.matched, query, rows: page.rows },
      history: a.history.points(),
      exporters: this.exportHealth.statuses(),
      events: { accepted: tracker.accepted, tracked_workers: tracker.size },
      rejections: {
        stats: Object.fromEntries(h.statsRejected),
        events: rejectedEvents,
        workers_dropped: Object.fromEntries(h.workersDropped),
        http_connections_cut: Object.fromEntries(this.exportHealth.connectionsCut),
        publish_failures: Object.fromEntries(h.publishFailures),
      },
      aggregates_published: Object.fromEntries(h.published),
    };
  }

  /** `--all-endpoints` before any worker registered: the process-wide parts only. */
  private noTarget(query: StatusQuery): AggregatorStatusBody {
    return {
      kind: 'aggregator',
      version: this.version,
      now: Date.now() / 1000,
      targets: [],
      target: null,
      started: this.set.started,
      role: 'standby',
      poll_interval_ms: this.set.opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
      nats_connected: this.set.natsConnected,
      etcd_reachable: this.set.etcdReachable,
      view_problem: null,
      cycle: { count: 0, last: null, duration_ms: null },
      load: null,
      workers: { total: 0, missing: 0, matched: 0, query, rows: [] },
      history: [],
      exporters: this.exportHealth.statuses(),
      events: { accepted: 0, tracked_workers: 0 },
      rejections: {
        stats: {},
        events: Object.fromEntries(this.set.intake.hitRateRejected),
        workers_dropped: {},
        http_connections_cut: Object.fromEntries(this.exportHealth.connectionsCut),
        publish_failures: {},
      },
      aggregates_published: {},
    };
  }

  /** `GET /api/status?target=&offset=&limit=&sort=&order=&worker=`: 400 with one line on a bad query. */
  readonly route = (req: IncomingMessage): RouteAnswer => {
    const params = new URL(req.url ?? '/', 'http://status.invalid').searchParams;
    try {
      const query = parseStatusQuery(params);
      return jsonAnswer(this.build(query, params.get('target') ?? undefined));
    } catch (err) {
      if (!(err instanceof StatusQueryError)) throw err;
      return {
        status: 400,
        headers: { ...PAGE_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' },
        body: `bad query: ${err.message}\n`,
      };
    }
  };

  /** `GET /health`: 200 when ready (readiness.ts) for every target, else 503; JSON saying why. */
  readonly health = (): RouteAnswer => {
    const r = this.set.readiness();
    const answer = jsonAnswer(healthBody(r, this.set.leading > 0 ? 'leader' : 'standby', (performance.now() - this.startedAt) / 1000));
    return { ...answer, status: r.ready ? 200 : 503 };
  };

  /** `GET /live`: 200 while the process runs and its event loop turns. */
  readonly live = (): RouteAnswer => jsonAnswer({ status: 'live', uptime_seconds: (performance.now() - this.startedAt) / 1000 });
}

/** Serves the page, `/api/status`, `/health` and `/live` on `server`. */
export function attachStatusPage(server: MetricsHttpServer, status: AggregatorStatus): void {
  for (const [path, route] of Object.entries(staticRoutes(AGGREGATOR_PAGE_FILES))) server.addRoute(path, route);
  server.addRoute(STATUS_API_PATH, status.route);
  server.addRoute(HEALTH_PATH, status.health);
  server.addRoute(LIVE_PATH, status.live);
}
