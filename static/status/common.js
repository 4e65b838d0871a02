// Shared by the status pages (aggregator and system status server). Plain ES module, no
// dependencies: every value from the server is put in the page as text (never as HTML).

/** An element with attributes and children (strings become text nodes). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== undefined && c !== null) e.append(c);
  return e;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  for (const c of children) if (c !== undefined && c !== null) e.append(c);
  return e;
}

/** A number for people: integers grouped, others to `digits` decimals; '–' when absent. */
export function fmt(v, digits = 2) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A duration in seconds for people: "3 d 4 h", "2 h 5 min", "4 min 10 s", "12 s". */
export function uptime(s) {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d > 0 ? `${d} d ${h} h` : h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${Math.floor(s % 60)} s` : `${Math.floor(s)} s`;
}

/** The header's badge (`#ready`), the time of the answer and the version. */
export function header(on, onText, offText, now, version) {
  const ready = document.getElementById('ready');
  ready.textContent = on ? onText : offText;
  ready.className = `badge ${on ? 'leader' : 'standby'}`;
  text('updated', `updated ${new Date(now * 1000).toLocaleTimeString()}`);
  text('version', `version ${version}`);
}

/** "3 s ago", "4 min ago" from unix seconds. */
export function ago(unixSeconds, now = Date.now() / 1000) {
  if (unixSeconds === null || unixSeconds === undefined) return 'never';
  const s = Math.max(0, now - unixSeconds);
  if (s < 1) return 'just now';
  if (s < 120) return `${Math.round(s)} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

/** Replaces the children of the element with id `id`. */
export function fill(id, ...children) {
  const e = document.getElementById(id);
  e.replaceChildren(...children.filter((c) => c !== undefined && c !== null));
  return e;
}

/** Sets the text of the element with id `id`. */
export function text(id, value) {
  document.getElementById(id).textContent = value;
}

/** A key → count object as table rows, largest first; `empty` when there is none. */
export function countRows(obj, empty = 'none') {
  const entries = Object.entries(obj ?? {}).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return [el('tr', {}, el('td', { colspan: 2, class: 'muted', text: empty }))];
  return entries.map(([k, n]) => el('tr', {}, el('td', { text: k }), el('td', { class: 'num', 'data-value': n, text: fmt(n) })));
}

/** Fetches JSON with a deadline; throws an Error whose message says what went wrong. */
export async function getJson(url, timeoutMs = 10_000) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const res = await fetch(url, { signal: ctl.signal, headers: { Accept: 'application/json' }, cache: 'no-store' });
    if (!res.ok) throw new Error(`${url.split('?')[0]} answered ${res.status}: ${(await res.text()).trim().slice(0, 200)}`);
    return await res.json();
  } catch (err) {
    throw new Error(err.name === 'AbortError' ? `no answer from ${url.split('?')[0]} within ${timeoutMs / 1000} s` : err.message);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Calls `refresh()` now and then every `interval()` ms after each one ends (never two at once);
 * `refresh.now()` asks for one at once. A failure shows in `#problem` and the next try goes on.
 */
export function poll(refresh, interval) {
  let timer;
  let running = false;
  let again = false;
  const problem = document.getElementById('fetch-problem');
  async function tick() {
    clearTimeout(timer);
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await refresh();
      problem.hidden = true;
    } catch (err) {
      problem.textContent = `Not updating: ${err.message}`;
      problem.hidden = false;
    } finally {
      running = false;
    }
    if (again) {
      again = false;
      void tick();
    } else timer = setTimeout(tick, interval());
  }
  void tick();
  return { now: tick };
}

/**
 * A time chart in `svgEl`: `series` is [{ name, cls, points: [[t, v|null], …] }], `band` an
 * optional [{ t, lo, hi }] area drawn under them; y from 0 (or `yMin`) to the largest value (or `yMax`).
 */
export function timeChart(svgEl, { series, band = [], yMax, unit = '', spanSeconds, now }) {
  const W = 640;
  const H = 180;
  const L = 48;
  const R = 8;
  const T = 8;
  const B = 22;
  svgEl.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svgEl.setAttribute('preserveAspectRatio', 'none');
  const t1 = now;
  const t0 = now - spanSeconds;
  let max = yMax ?? 0;
  if (yMax === undefined) {
    for (const s of series) for (const [, v] of s.points) if (v !== null && v > max) max = v;
    for (const b of band) if (b.hi > max) max = b.hi;
    max = max <= 0 ? 1 : niceCeil(max);
  }
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  const parts = [];
  for (const f of [0, 0.5, 1]) {
    const v = max * f;
    parts.push(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }));
    parts.push(svg('text', { x: L - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, `${fmt(v, v < 10 ? 1 : 0)}${unit}`));
  }
  for (const m of [spanSeconds, spanSeconds / 2, 0]) {
    parts.push(
      svg(
        'text',
        { x: x(now - m), y: H - 6, class: 'axis', 'text-anchor': m === spanSeconds ? 'start' : m === 0 ? 'end' : 'middle' },
        m === 0 ? 'now' : `−${fmtSpan(m)}`,
      ),
    );
  }
  const visible = band.filter((b) => b.t >= t0);
  if (visible.length > 1) {
    const d = visible
      .map((b) => `${x(b.t).toFixed(1)},${y(Math.max(0, b.lo)).toFixed(1)}`)
      .concat(visible.reverse().map((b) => `${x(b.t).toFixed(1)},${y(b.hi).toFixed(1)}`));
    parts.push(svg('polygon', { points: d.join(' '), class: 'band' }));
  }
  for (const s of series) {
    // a gap (null) breaks the line
    let run = [];
    const flush = () => {
      if (run.length > 1) parts.push(svg('polyline', { points: run.join(' '), class: `line ${s.cls}` }));
      else if (run.length === 1)
        parts.push(svg('circle', { cx: run[0].split(',')[0], cy: run[0].split(',')[1], r: 2, class: `dot ${s.cls}` }));
      run = [];
    };
    for (const [t, v] of s.points) {
      if (t < t0) continue;
      if (v === null) flush();
      else run.push(`${x(t).toFixed(1)},${y(Math.min(v, max)).toFixed(1)}`);
    }
    flush();
  }
  svgEl.replaceChildren(...parts);
}

function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmtSpan(seconds) {
  return seconds >= 120 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds)} s`;
}

/** The exporters' health as table rows (both pages). */
export function exporterRows(exporters, now) {
  if (exporters.length === 0) return [el('tr', {}, el('td', { colspan: 5, class: 'muted', text: 'no export attempted yet' }))];
  return exporters.map((e) =>
    el(
      'tr',
      { 'data-exporter': e.exporter },
      el('td', { text: e.exporter }),
      el('td', { class: 'num', text: fmt(e.attempts) }),
      el('td', { class: e.failures > 0 ? 'num bad' : 'num', text: fmt(e.failures) }),
      el('td', { text: ago(e.lastSuccess, now) }),
      el('td', { class: 'error-text', text: e.lastError ? `${e.lastError} (${ago(e.lastFailure, now)})` : '–' }),
    ),
  );
}
