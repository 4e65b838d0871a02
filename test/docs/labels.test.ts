/**
 * The custom-metric label rule as docs/runtime-api.md states it is the rule the code applies:
 * the reserved labels the page lists are `RESERVED_LABELS`, no more and no fewer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESERVED_LABELS } from '../../instrumentation/CustomMetrics.ts';

test('docs/runtime-api.md lists exactly the reserved labels of custom metrics', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'runtime-api.md'), 'utf8');
  const m = /a reserved\s+label \(([^)]*)\)/.exec(doc);
  assert.ok(m !== null, 'the page states the reserved labels as "a reserved label (`a`, `b`, …)"');
  const listed = [...m[1]!.matchAll(/`([^`]+)`/g)].map((x) => x[1]);
  assert.deepEqual([...listed].sort(), [...RESERVED_LABELS].sort());
});
