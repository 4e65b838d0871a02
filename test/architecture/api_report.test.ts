/**
 * The public surface changes only on purpose: what each entry point exports, with kinds and types,
 * is the committed API report in `api/` (scripts/api-report.ts). A change to the surface fails
 * here until the report is regenerated and committed with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_DIR, apiReports } from '../../scripts/api-report.ts';

test('each entry point exports what its committed API report says', () => {
  const reports = apiReports();
  assert.deepEqual([...reports.keys()].sort(), ['export', 'instrumentation', 'runtime']);
  for (const [entry, text] of reports) {
    const file = join(API_DIR, `${entry}.api.md`);
    assert.ok(existsSync(file), `api/${entry}.api.md is committed`);
    assert.equal(
      readFileSync(file, 'utf8'),
      text,
      `the ${entry} entry point changed: run node --import tsx scripts/api-report.ts and commit api/ with the change`,
    );
  }
});
