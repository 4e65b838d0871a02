/**
 * docs/runtime-api.md's table of errors names every error class the runtime entry point exports,
 * and nothing else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as runtime from '../../src/runtime/index.ts';

test("the errors table of docs/runtime-api.md is the runtime's exported error classes", () => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'runtime-api.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Errors'));
  const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| error |')));
  const documented = new Set([...table.matchAll(/^\| ([^|]+) \|/gm)].flatMap((m) => [...m[1]!.matchAll(/`(\w+)`/g)].map((x) => x[1]!)));
  const exported = Object.entries(runtime)
    .filter(([name, v]) => typeof v === 'function' && name.endsWith('Error') && v.prototype instanceof Error)
    .map(([name]) => name)
    .filter((name) => name !== 'DynamoError');
  assert.deepEqual([...documented].sort(), exported.sort());
});
