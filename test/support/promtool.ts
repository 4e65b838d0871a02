/** `promtool check metrics` (from the prometheus Debian package) on an exposition text. */
import { spawnSync } from 'node:child_process';

/**
 * Lint findings that the metric catalogue makes on purpose: `llm_kv_blocks_total` is a gauge
 * whose name Dynamo gave it (docs/metrics.md §2), and dashboards rely on it.
 */
export const SPEC_MANDATED_LINT: RegExp[] = [/^llm_kv_blocks_total non-counter metrics should not have "_total" suffix$/];

/** Fails on any parse error, and on lint findings other than the mandated ones. */
export function promtool(text: string, allowedLint: RegExp[] = SPEC_MANDATED_LINT): void {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.status === 0) return;
  const findings = `${r.stdout}${r.stderr}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const unexpected = findings.filter((l) => !allowedLint.some((re) => re.test(l)));
  if (r.status === 3 && unexpected.length === 0) return; // lint only, all of it expected
  throw new Error(`promtool check metrics failed (exit ${r.status}): ${unexpected.join(' | ')}`);
}
