/**
 * BENCHMARKS.md's figures are the benches' own output: every result block is the report a bench
 * wrote to bench/results/ (scripts/bench.sh), word for word, each report ends with its goals'
 * verdict, and every bench that checks goals has a block.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BLOCK, regenerate } from '../../scripts/benchmarks.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const doc = readFileSync(join(ROOT, 'BENCHMARKS.md'), 'utf8');

test('every result block of BENCHMARKS.md is the summary of its bench report, unchanged', () => {
  assert.equal(
    regenerate(doc),
    doc,
    'BENCHMARKS.md differs from bench/results/: run node --import tsx scripts/benchmarks.ts (or the bench again)',
  );
});

test('every report named there ends with a verdict, and every bench with goals has a report there', () => {
  const named = [...doc.matchAll(BLOCK)].map((m) => m[1]!);
  assert.ok(named.length > 0);
  for (const file of named) {
    const report = readFileSync(join(ROOT, file), 'utf8');
    assert.match(report, /^verdict: \d+\/\d+ goals met/m, `${file} has its verdict line`);
    assert.match(report, /^\| goal \| figure \| target \| verdict \|$/m, `${file} prints each goal next to its figure`);
  }
  for (const f of readdirSync(join(ROOT, 'bench')).filter((x) => x.endsWith('.bench.ts'))) {
    const src = readFileSync(join(ROOT, 'bench', f), 'utf8');
    if (!src.includes('verdict()')) continue;
    const name = f.replace('.bench.ts', '');
    assert.ok(
      named.some((n) => n.startsWith(`bench/results/${name}`)),
      `${f} checks goals: BENCHMARKS.md shows its report`,
    );
  }
});

test('the regeneration bites: a block edited by hand is put back, a missing report is named', () => {
  const file = [...doc.matchAll(BLOCK)][0]![1]!;
  const edited = doc.replace(/(<!-- results: [^\n]+ -->\n\n)([^\n]*)/, '$1| edited by hand |');
  assert.notEqual(edited, doc);
  assert.equal(regenerate(edited), doc);
  assert.throws(
    () => regenerate('<!-- results: bench/results/nothing.md -->\nx\n<!-- /results -->'),
    /bench\/results\/nothing\.md, which no bench has written/,
  );
  assert.ok(file.startsWith('bench/results/'));
});

test('BENCHMARKS.md holds method and results: at most 300 lines, no session diary', () => {
  assert.ok(doc.split('\n').length <= 300, `${doc.split('\n').length} lines`);
  assert.doesNotMatch(doc, /\bsession \d/i, 'history goes to CHANGELOG.md and git');
});
