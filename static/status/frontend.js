// The frontend's status page: refreshes from api/status every REFRESH_MS (docs/status-page.md).
import { el, exporterRows, fill, fmt, getJson, header, poll, text, uptime } from './common.js';

const REFRESH_MS = 2000;

function ms(seconds) {
  return seconds === null ? '–' : `${fmt(seconds * 1000, 1)} ms`;
}

function render(s) {
  text('router', `router ${s.router_mode}`);
  header(s.ready, 'serving', 'no model yet', s.now, s.version);
  text('c-uptime', uptime(s.uptime_seconds));
  const sum = (f) => s.models.reduce((a, m) => a + f(m), 0);
  text('c-requests', fmt(sum((m) => m.requests + m.errors)));
  text('c-inflight', `${fmt(sum((m) => m.inflight))} in flight`);
  text('c-errors', fmt(sum((m) => m.errors)));
  text('c-disconnected', `${fmt(s.disconnected_clients)} clients went away`);
  text('c-tokens', fmt(sum((m) => m.output_tokens)));
  const cell = (col, v, shown = fmt(v)) => el('td', { class: 'num', 'data-col': col, 'data-value': v, text: shown });
  const models = s.models.map((m) =>
    el(
      'tr',
      { 'data-model': m.model },
      el('td', { class: 'mono', text: m.model }),
      el('td', { class: 'mono', text: m.endpoint ?? 'no worker' }),
      cell('workers', m.instances_total),
      cell('requests', m.requests + m.errors),
      cell('errors', m.errors),
      cell('inflight', m.inflight),
      cell('queued', m.queued),
      el('td', { class: 'num', text: ms(m.mean_ttft_seconds) }),
      el('td', { class: 'num', text: ms(m.mean_itl_seconds) }),
      cell('output_tokens', m.output_tokens),
    ),
  );
  fill(
    'models-body',
    ...(models.length > 0 ? models : [el('tr', {}, el('td', { colspan: 10, class: 'muted', text: 'no model card found yet' }))]),
  );
  const instances = s.models.flatMap((m) =>
    m.instances.map((i) =>
      el(
        'tr',
        { 'data-instance': i.id },
        el('td', { class: 'mono', text: m.model }),
        el('td', { class: 'mono', text: i.id }),
        cell('waiting', i.load?.waiting ?? null),
        cell('decode_blocks', i.load?.decode_blocks ?? null),
        cell('prefill_tokens', i.load?.prefill_tokens ?? null),
        el('td', { text: i.load === null ? 'not heard from' : `${fmt(i.load.age_seconds, 1)} s ago` }),
      ),
    ),
  );
  fill(
    'instances-body',
    ...(instances.length > 0 ? instances : [el('tr', {}, el('td', { colspan: 6, class: 'muted', text: 'no worker yet' }))]),
  );
  fill('exporters-body', ...exporterRows(s.exporters, s.now));
}

poll(
  async () => render(await getJson('api/status')),
  () => REFRESH_MS,
);
