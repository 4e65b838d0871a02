/**
 * Regenerates the result blocks of BENCHMARKS.md from the benches' own reports in bench/results/
 * (written by scripts/bench.sh): every block
 *
 *   <!-- results: bench/results/NAME.md -->
 *   ...
 *   <!-- /results -->
 *
 * gets the report's contents. `--check` changes nothing and exits 1 when a block differs from its
 * report (test/docs/benchmarks.test.ts runs it).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const DOC = join(ROOT, 'BENCHMARKS.md');
export const BLOCK = /<!-- results: (bench\/results\/[\w.-]+\.md) -->\n[\s\S]*?<!-- \/results -->/g;

/** BENCHMARKS.md with every block filled from its report; throws naming a missing report. */
export function regenerate(doc: string, root = ROOT): string {
  return doc.replace(BLOCK, (_m, file: string) => {
    const path = join(root, file);
    if (!existsSync(path)) throw new Error(`BENCHMARKS.md names ${file}, which no bench has written (run: npm run bench -- bench/<name>.bench.ts)`);
    const report = readFileSync(path, 'utf8').trimEnd();
    return `<!-- results: ${file} -->\n\n${report}\n\n<!-- /results -->`;
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
