/**
 * Every source module with code has tests a reader can find: a test file named after it, or a
 * row of the table in docs/architecture.md ("Where a module's tests are") naming files that exist.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');

function files(dir: string, suffix: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith(suffix))
    .map((f) => join(dir, f));
}

/** `EndpointServer` → `endpoint_server`, `hitRateEvent` → `hit_rate_event`. */
const snake = (name: string): string => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

/** A module with code: it declares a function or a class (not only types and constants). */
const hasCode = (src: string): boolean => /\b(function|class)\b|=>/.test(src.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ''));

function indexRows(): Map<string, string[]> {
  const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
  const section = doc.slice(doc.indexOf("### Where a module's tests are"));
  const rows = new Map<string, string[]>();
  for (const m of section.matchAll(/^\| `([^`]+)` \| (.+) \|$/gm)) {
    rows.set(
      m[1] as string,
      [...(m[2] as string).matchAll(/`([^`]+)`/g)].map((x) => x[1] as string),
    );
  }
  return rows;
}

test('every module with code has a test file named after it or listed in the architecture doc', () => {
  // a test named after a module counts in the test folder of the module's folder (src/X → test/X)
  const folderOf = (parts: string[]): string => (parts.length > 1 ? (parts[0] as string) : '');
  const tests = new Set(files('test', '.test.ts').map((f) => `${folderOf(f.split('/').slice(1))}/${basename(f, '.test.ts')}`));
  const moduleFolder = (mod: string): string => folderOf(mod.startsWith('src/') ? mod.split('/').slice(1) : mod.split('/'));
  const rows = indexRows();
  assert.ok(rows.size > 0, 'the table is found');
  const missing: string[] = [];
  for (const mod of [...files('src', '.ts'), ...files('instrumentation', '.ts')]) {
    const name = basename(mod, '.ts');
    if (name === 'index' || !hasCode(readFileSync(join(ROOT, mod), 'utf8'))) continue;
    if (tests.has(`${moduleFolder(mod)}/${snake(name)}`) || rows.has(mod)) continue;
    missing.push(mod);
  }
  assert.deepEqual(missing, [], 'modules without a test a reader can find');
});

test("the table's modules and test files exist", () => {
  const gone: string[] = [];
  for (const [mod, tests] of indexRows()) {
    if (!existsSync(join(ROOT, mod))) gone.push(mod);
    for (const t of tests) if (!existsSync(join(ROOT, t))) gone.push(`${mod} → ${t}`);
  }
  assert.deepEqual(gone, []);
});
