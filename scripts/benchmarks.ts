/**
 * Regenerates the result blocks of BENCHMARKS.md from the benches' own reports in bench/results/
 * (written by scripts/bench.sh): every block
 *
 *   <!-- results: bench/results/NAME.md -->
 *   ...
 *   <!-- /results -->
 *
 * gets the report's summary: when and how it ran, its goals next to their figures, its verdict,
 * and a link to the whole report. `--check` changes nothing and exits 1 when a block differs
 * from its report (test/docs/benchmarks.test.ts runs it).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const DOC = join(ROOT, 'BENCHMARKS.md');
export const BLOCK = /<!-- results: (bench\/results\/[\w.-]+\.md) -->\n[\s\S]*?<!-- \/results -->/g;

/**
 * What a block shows of a report: the run (from the report's first line, `<!-- bench, date,
 * node, settings -->`), the goals table and the verdict (the report's end), and the link to the
 * whole report.
 */
export function summary(file: string, report: string): string {
  const lines = report.trimEnd().split('\n');
  const head = /^<!-- \S+, (\S+), (\S+)(?:, (.*))? -->$/.exec(lines[0] ?? '');
  const goals = lines.findIndex((l) => l.startsWith('| goal | figure |'));
  if (head === null || goals === -1)
    throw new Error(`${file} is not a bench report (its first line names the run, its end has the goals table)`);
  const run = `${head[1]}, node ${head[2]}${head[3] === undefined ? '' : `, ${head[3]}`}`;
  return `Latest run: ${run} ([whole report](${file})).\n\n${lines.slice(goals).join('\n')}`;
}

/** BENCHMARKS.md with every block filled from its report; throws naming a missing report. */
export function regenerate(doc: string, root = ROOT): string {
  return doc.replace(BLOCK, (_m, file: string) => {
    const path = join(root, file);
    if (!existsSync(path))
      throw new Error(`BENCHMARKS.md names ${file}, which no bench has written (run: npm run bench -- bench/<name>.bench.ts)`);
    return `<!-- results: ${file} -->\n\n${summary(file, readFileSync(path, 'utf8'))}\n\n<!-- /results -->`;
  });
}

if (process.argv[1] === import.meta.filename) {
  const doc = readFileSync(DOC, 'utf8');
  const next = regenerate(doc);
  if (process.argv.includes('--check')) {
    if (next !== doc) {
      process.stderr.write('benchmarks: BENCHMARKS.md differs from bench/results/; run: node --import tsx scripts/benchmarks.ts\n');
      process.exit(1);
    }
  } else if (next !== doc) writeFileSync(DOC, next);
}
