/**
 * A deliberate surface: every name an entry point exports (its API report in `api/`, values and
 * types alike) is named in README.md or `docs/`, as code (in backticks or a code block), so that
 * nothing is public by accident. The type-only names are listed in docs/runtime-api.md's "Types".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

/** The top-level names of an API report: `- kind \`Name\`` lines. */
export function reportNames(report: string): string[] {
  return [...report.matchAll(/^- (?:interface|type|class|function|const|enum|namespace) `([A-Za-z_$][\w$]*)`/gm)].map((m) => m[1] ?? '');
}

test('every name in the API reports is named in README or docs', () => {
  const docs = [
    readFileSync(join(ROOT, 'README.md'), 'utf8'),
    ...readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => readFileSync(join(ROOT, 'docs', f), 'utf8')),
  ].join('\n');
  const code = [...docs.matchAll(/```[^\n]*\n([\s\S]*?)```|`([^`\n]+)`/g)].map((m) => m[1] ?? m[2] ?? '');
  const named = new Set(code.flatMap((c) => c.match(/[A-Za-z_$][\w$]*/g) ?? []));
  let total = 0;
  for (const file of readdirSync(join(ROOT, 'api'))) {
    const names = reportNames(readFileSync(join(ROOT, 'api', file), 'utf8'));
    assert.ok(names.length > 0, `${file} lists names`);
    total += names.length;
    const missing = names.filter((n) => !named.has(n));
    assert.deepEqual(missing, [], `${file}: exported but named nowhere in README or docs/`);
  }
  assert.ok(total > 30, `the reports list ${total} names`);
});

test('the check finds a name the docs do not give', () => {
  assert.deepEqual(reportNames('- interface `Documented`\n  - `member`: `x`\n- type `Secret` = `1`\n'), ['Documented', 'Secret']);
});
