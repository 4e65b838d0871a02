// The aggregator's status page: refreshes from api/status at the poll interval (docs/status-page.md).
import { ago, countRows, el, exporterRows, fill, fmt, getJson, poll, text, timeChart } from './common.js';

const COLUMNS = [
  ['worker_id', 'worker id'],
  ['active_slots', 'active slots'],
  ['total_slots', 'total slots'],
  ['kv_active_blocks', 'KV active blocks'],
  ['kv_total_blocks', 'KV total blocks'],
  ['requests_waiting', 'waiting'],
  ['gpu_cache_usage_percent', 'cache usage %'],
  ['hit_rate_percent', 'hit rate %'],
  ['isl_blocks', 'ISL blocks'],
  ['overlap_blocks', 'overlap blocks'],
  ['missed_cycles', 'missed cycles'],
];
const PAGE_ROWS = 100;
// the target shown (a path from the targets list; the first when unset), kept in the address as #target=
const state = {
  sort: 'worker_id',
  order: 'asc',
  offset: 0,
  worker: '',
  matched: 0,
  pollMs: 1000,
  target: new URLSearchParams(location.hash.slice(1)).get('target') ?? '',
};
let poller;

function header() {
  fill(
    'workers-head',
    ...COLUMNS.map(([key, label]) => {
      const sorted = state.sort === key;
      return el(
        'th',
        {
          class: key === 'worker_id' ? '' : 'num',
          'aria-sort': sorted ? (state.order === 'asc' ? 'ascending' : 'descending') : 'none',
          'data-col': key,
        },
        el('button', { type: 'button', onclick: () => sortBy(key) }, label, sorted ? (state.order === 'asc' ? ' ▲' : ' ▼') : ''),
      );
    }),
  );
}

function sortBy(key) {
  if (state.sort === key) state.order = state.order === 'asc' ? 'desc' : 'asc';
  else {
    state.sort = key;
    state.order = key === 'worker_id' ? 'asc' : 'desc';
  }
  state.offset = 0;
  header();
  poller.now();
}

function go(offset) {
  const lastPage = Math.max(0, Math.ceil(state.matched / PAGE_ROWS) - 1) * PAGE_ROWS;
  state.offset = Math.min(Math.max(0, offset), lastPage);
  poller.now();
}

function query() {
  const q = new URLSearchParams({ offset: String(state.offset), limit: String(PAGE_ROWS), sort: state.sort, order: state.order });
  if (state.worker !== '') q.set('worker', state.worker);
  if (state.target !== '') q.set('target', state.target);
  return `api/status?${q}`;
}

function choose(path) {
  state.target = path;
  state.offset = 0;
  history.replaceState(null, '', `#${new URLSearchParams({ target: path })}`);
  poller.now();
}

/** Every target of the process, one row each; the row shown below is marked. Hidden with one target. */
function targets(s) {
  const section = document.getElementById('targets-section');
  section.hidden = s.targets.length === 1;
  const shown = s.target === null ? '' : `${s.target.namespace}/${s.target.component}/${s.target.endpoint}`;
  const rows = s.targets.map((t) =>
    el(
      'tr',
      { 'data-target': t.path, class: t.path === shown ? 'selected' : '', 'aria-current': t.path === shown ? 'true' : undefined },
      el('td', { class: 'mono' }, el('button', { type: 'button', class: 'link', onclick: () => choose(t.path) }, t.path)),
      el('td', {}, el('span', { class: `badge ${t.role}`, text: t.role })),
      el('td', { class: 'num', 'data-value': t.workers, text: fmt(t.workers) }),
      el('td', { class: 'num', text: fmt(t.load?.avg ?? null) }),
      el('td', { class: 'num', text: fmt(t.load?.std ?? null) }),
      el('td', { class: t.view_current ? 'ok' : 'muted', text: t.view_current ? 'yes' : 'no' }),
    ),
  );
  if (rows.length === 0)
    rows.push(el('tr', {}, el('td', { colspan: 6, class: 'muted', text: 'no endpoint registered in the namespace yet' })));
  fill('targets-body', ...rows);
}

function render(s) {
  state.pollMs = s.poll_interval_ms;
  state.matched = s.workers.matched;
  if (state.offset > 0 && state.offset >= s.workers.matched)
    state.offset = Math.max(0, (Math.ceil(s.workers.matched / PAGE_ROWS) - 1) * PAGE_ROWS);
  // what the numbers belong to (tests compare them with /metrics of the same cycle)
  document.body.dataset.cycle = String(s.cycle.count);
  document.body.dataset.events = String(s.events.accepted);
  targets(s);
  const t = s.target;
  text('target', t === null ? 'no target yet' : `${t.namespace}/${t.component}/${t.endpoint}`);
  const role = document.getElementById('role');
  role.textContent = s.role;
  role.className = `badge ${s.role}`;
  text('updated', `updated ${new Date(s.now * 1000).toLocaleTimeString()}`);
  text('version', `version ${s.version}`);
  const vp = document.getElementById('view-problem');
  vp.hidden = s.view_problem === null && s.role === 'leader';
  vp.textContent =
    s.view_problem !== null
      ? `Worker stats are not exported right now: ${s.view_problem}`
      : 'Standby: another instance leads this target; this one only counts hit-rate events.';

  text('c-workers', fmt(s.workers.total));
  text('c-missing', s.workers.missing > 0 ? `${fmt(s.workers.missing)} missed the last cycle` : 'all answered');
  text('c-load-avg', fmt(s.load?.avg ?? null));
  text('c-load-std', fmt(s.load?.std ?? null));
  const lastHit = [...s.history].reverse().find((p) => p.hit_rate_percent !== null);
  text('c-hit', lastHit ? `${fmt(lastHit.hit_rate_percent, 1)} %` : '–');
  text('c-events', `of the latest cycle's events; ${fmt(s.events.accepted)} accepted in all`);
  text('c-cycle', s.cycle.duration_ms === null ? '–' : `${fmt(s.cycle.duration_ms, 0)} ms`);
  text('c-cycles', `${fmt(s.cycle.count)} cycles, last ${ago(s.cycle.last, s.now)}`);
  const conn = (id, name, ok, bad) => {
    const e = document.getElementById(id);
    e.textContent = `${name} ${ok ? '●' : '○'} ${ok ? 'up' : bad}`;
    e.className = `value small ${ok ? 'ok' : 'bad'}`;
  };
  conn('c-nats', 'NATS', s.nats_connected, 'disconnected');
  conn('c-etcd', 'etcd', s.etcd_reachable, 'unreachable');

  charts(s);
  workers(s);
  fill('exporters-body', ...exporterRows(s.exporters, s.now));
  fill('published-body', ...countRows(s.aggregates_published, 'none yet'));
  const rej = [];
  const labels = {
    stats: 'stats replies',
    events: 'hit-rate events',
    workers_dropped: 'workers dropped',
    http_connections_cut: 'HTTP connections cut',
    publish_failures: 'aggregates not published',
  };
  for (const [what, counts] of Object.entries(s.rejections)) {
    for (const [reason, n] of Object.entries(counts).sort((a, b) => b[1] - a[1])) {
      rej.push(
        el(
          'tr',
          { 'data-what': what, 'data-reason': reason },
          el('td', { text: labels[what] ?? what }),
          el('td', { text: reason }),
          el('td', { class: 'num', 'data-value': n, text: fmt(n) }),
        ),
      );
    }
  }
  fill('rejections-body', ...(rej.length > 0 ? rej : [el('tr', {}, el('td', { colspan: 3, class: 'muted', text: 'nothing rejected' }))]));
}

function charts(s) {
  const h = s.history;
  const span = Math.max(60, h.length > 0 ? s.now - h[0].t : 60);
  timeChart(document.getElementById('load-chart'), {
    now: s.now,
    spanSeconds: span,
    series: [{ name: 'load avg', cls: 'avg', points: h.map((p) => [p.t, p.load_avg]) }],
    band: h.filter((p) => p.load_avg !== null).map((p) => ({ t: p.t, lo: p.load_avg - p.load_std, hi: p.load_avg + p.load_std })),
  });
  const maxWorkers = Math.max(1, ...h.map((p) => p.workers));
  text('workers-max', `0–${fmt(maxWorkers)}`);
  timeChart(document.getElementById('hit-chart'), {
    now: s.now,
    spanSeconds: span,
    yMax: 100,
    unit: '%',
    series: [
      { name: 'workers', cls: 'workers', points: h.map((p) => [p.t, (100 * p.workers) / maxWorkers]) },
      { name: 'hit rate', cls: 'hit', points: h.map((p) => [p.t, p.hit_rate_percent]) },
    ],
  });
}

function workers(s) {
  const rows = s.workers.rows.map((r) =>
    el(
      'tr',
      { 'data-worker-id': r.worker_id, class: r.missed_cycles > 0 ? 'missing' : '' },
      ...COLUMNS.map(([key]) => {
        const v = r[key];
        const shown = key === 'worker_id' ? v : key.endsWith('_percent') ? fmt(v, 1) : fmt(v);
        return el('td', {
          class: key === 'worker_id' ? 'mono' : 'num',
          'data-col': key,
          'data-value': v === null ? '' : String(v),
          text: shown,
        });
      }),
    ),
  );
  if (rows.length === 0)
    rows.push(
      el(
        'tr',
        {},
        el('td', { colspan: COLUMNS.length, class: 'muted', text: s.role === 'leader' ? 'no workers found' : 'standby: no view' }),
      ),
    );
  fill('workers-body', ...rows);
  const pages = Math.max(1, Math.ceil(s.workers.matched / PAGE_ROWS));
  const page = Math.floor(state.offset / PAGE_ROWS) + 1;
  const filtered = s.workers.matched !== s.workers.total ? ` (${fmt(s.workers.matched)} of ${fmt(s.workers.total)} match)` : '';
  text('page-info', `page ${fmt(page)} of ${fmt(pages)}${filtered}`);
  document.getElementById('first').disabled = page <= 1;
  document.getElementById('prev').disabled = page <= 1;
  document.getElementById('next').disabled = page >= pages;
  document.getElementById('last').disabled = page >= pages;
}

function start() {
  header();
  document.getElementById('first').addEventListener('click', () => go(0));
  document.getElementById('prev').addEventListener('click', () => go(state.offset - PAGE_ROWS));
  document.getElementById('next').addEventListener('click', () => go(state.offset + PAGE_ROWS));
  document.getElementById('last').addEventListener('click', () => go(Number.MAX_SAFE_INTEGER));
  // a link or the address bar naming another target
  window.addEventListener('hashchange', () => {
    state.target = new URLSearchParams(location.hash.slice(1)).get('target') ?? '';
    state.offset = 0;
    poller.now();
  });
  let debounce;
  document.getElementById('filter').addEventListener('input', (e) => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      state.worker = e.target.value.replace(/\D/g, '').slice(0, 20);
      state.offset = 0;
      poller.now();
    }, 250);
  });
  poller = poll(
    async () => {
      try {
        render(await getJson(query()));
      } catch (err) {
        // a target in the address that this process no longer follows: show the first instead
        if (state.target === '' || !err.message.includes('is not followed by this process')) throw err;
        state.target = '';
        history.replaceState(null, '', location.pathname);
        render(await getJson(query()));
      }
    },
    () => Math.max(500, state.pollMs),
  );
}

start();
