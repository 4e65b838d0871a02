// The system status server's page: refreshes from api/status every REFRESH_MS (docs/status-page.md).
import { el, exporterRows, fill, fmt, getJson, header, poll, text, uptime } from './common.js';

const REFRESH_MS = 2000;

function duration(seconds) {
  if (seconds === null) return '–';
  return seconds < 1 ? `${fmt(seconds * 1000, 1)} ms` : `${fmt(seconds, 2)} s`;
}

function render(s) {
  text('instance', s.instance_id === null ? 'instance id not known yet' : `instance ${s.instance_id}`);
  header(s.ready, 'ready', 'not ready', s.now, s.version);
  text('c-uptime', uptime(s.uptime_seconds));
  const sum = (f) => s.endpoints.reduce((a, e) => a + f(e), 0);
  text('c-requests', fmt(sum((e) => e.requests)));
  text('c-inflight', `${fmt(sum((e) => e.inflight))} in flight`);
  text('c-errors', fmt(sum((e) => Object.values(e.errors).reduce((a, n) => a + n, 0))));
  text('c-cancelled', `${fmt(sum((e) => e.cancellations))} cancelled`);
  const rows = s.endpoints.map((e) => {
    const path = `${e.namespace}/${e.component}/${e.endpoint}`;
    const errs = Object.entries(e.errors);
    return el(
      'tr',
      { 'data-endpoint': path },
      el('td', { class: 'mono', text: path }),
      el('td', { class: 'num', 'data-col': 'requests', 'data-value': e.requests, text: fmt(e.requests) }),
      el('td', { class: 'num', 'data-col': 'inflight', 'data-value': e.inflight, text: fmt(e.inflight) }),
      el('td', { 'data-col': 'errors', text: errs.length === 0 ? '–' : errs.map(([t, n]) => `${t}: ${fmt(n)}`).join(', ') }),
      el('td', { class: 'num', 'data-col': 'cancellations', 'data-value': e.cancellations, text: fmt(e.cancellations) }),
      el('td', { class: 'num', text: duration(e.duration_mean_seconds) }),
      el('td', { class: 'num', 'data-col': 'request_bytes', 'data-value': e.request_bytes, text: fmt(e.request_bytes) }),
      el('td', { class: 'num', 'data-col': 'response_bytes', 'data-value': e.response_bytes, text: fmt(e.response_bytes) }),
    );
  });
  fill(
    'endpoints-body',
    ...(rows.length > 0 ? rows : [el('tr', {}, el('td', { colspan: 8, class: 'muted', text: 'no endpoint has been served yet' }))]),
  );
  const omitted = document.getElementById('omitted');
  omitted.hidden = s.endpoints_omitted === 0;
  omitted.textContent = `${fmt(s.endpoints_omitted)} more endpoints not listed`;
  fill('exporters-body', ...exporterRows(s.exporters, s.now));
}

poll(
  async () => render(await getJson('api/status')),
  () => REFRESH_MS,
);
