/** Reading values out of a Prometheus text exposition in tests. */

/** Every sample as `name{labels}` → value, labels in the order written. */
export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/s.exec(line);
    if (m === null) throw new Error(`not an exposition line: ${line}`);
    out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3] === '+Inf' ? Infinity : m[3]));
  }
  return out;
}

/** The value of the one sample of `name` whose labels include all of `labels`. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const [series, value] of parseExposition(text)) {
    const m = /^([^{]+)(?:\{(.*)\})?$/s.exec(series)!;
    if (m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have.set(lm[1]!, lm[2]!);
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return value;
  }
  return undefined;
}

/** All series of `name` as label maps with their values. */
export function series(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const [s, value] of parseExposition(text)) {
    const m = /^([^{]+)(?:\{(.*)\})?$/s.exec(s)!;
    if (m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]!] = lm[2]!;
    out.push({ labels, value });
  }
  return out;
}

/** A counter's samples by their `reason` label: `{ conflict: 4, unregistered: 2 }`. */
export function reasons(text: string, name: string): Record<string, number> {
  return Object.fromEntries(series(text, name).map((s) => [s.labels.reason ?? '', s.value]));
}
