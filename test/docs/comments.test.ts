/**
 * Source comments say what and why, not when or who: no comment in the product's code, its
 * scripts or its benchmarks names a work session or an issue number (those go stale; the history
 * is in CHANGELOG.md and git).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
/** A session, or an issue of this project (`#12`, `issue 12`); an upstream one (`nodejs/node#55351`) is a source. */
const DIARY = /\bsessions? \d+\b|\bthis session\b|\bissue #?\d+|(?<![\w/-])#\d+\b/i;

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) return sources(rel);
    return /\.(ts|mjs|js|sh)$/.test(name) ? [rel] : [];
  });
}

test('no source comment names a session or an issue', () => {
  const found: string[] = [];
  for (const file of ['index.ts', ...sources('src'), ...sources('instrumentation'), ...sources('scripts'), ...sources('bench')]) {
    for (const [i, line] of readFileSync(join(ROOT, file), 'utf8').split('\n').entries()) {
      const comment = /(?:\/\/|\/\*|^\s*\*|^\s*#)(.*)$/.exec(line);
      if (comment !== null && DIARY.test(comment[1]!)) found.push(`${file}:${i + 1}: ${line.trim()}`);
    }
  }
  assert.deepEqual(found, []);
});
