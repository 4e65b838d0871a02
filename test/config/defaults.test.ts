/**
 * Every default is one named constant: change a constant in a copy of the tree and `--help`,
 * the tables of docs/configuration.md and config/example.yaml all follow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

/** Replaces `from` (which must occur once) in `file` under `dir`. */
function patch(dir: string, file: string, from: string, to: string): void {
  const path = join(dir, file);
  const text = readFileSync(path, 'utf8');
  assert.equal(text.split(from).length, 2, `${file} holds ${from} once`);
  writeFileSync(path, text.replace(from, to));
}

test('changing a DEFAULT_* constant changes --help, docs/configuration.md and config/example.yaml', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'defaults-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const p of ['src', 'instrumentation', 'scripts', 'docs', 'config', 'bin', 'package.json', 'tsconfig.json'])
    cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  patch(
    dir,
    'src/aggregator/options.ts',
    'export const DEFAULT_POLL_INTERVAL_MS = 1_000;',
    'export const DEFAULT_POLL_INTERVAL_MS = 2_500;',
  );
  patch(dir, 'src/export/options.ts', 'export const DEFAULT_OTLP_TIMEOUT_MS = 10_000;', 'export const DEFAULT_OTLP_TIMEOUT_MS = 7_000;');
  patch(
    dir,
    'src/mock/options.ts',
    'export const DEFAULT_HIT_RATE_INTERVAL_MS = 1_000;',
    'export const DEFAULT_HIT_RATE_INTERVAL_MS = 3_000;',
  );
  const node = (args: string[]): string => execFileSync(process.execPath, ['--import', 'tsx', ...args], { cwd: dir, encoding: 'utf8' });

  const help = node(['src/cli/metrics.ts', '--help']);
  assert.match(help, /--poll-interval VALUE[^\n]*\n[^\n]*default: 2\.5s/);
  assert.match(help, /--otlp-timeout VALUE[^\n]*\n[^\n]*default: 7s/);
  assert.match(node(['src/cli/mock_worker.ts', '--help']), /--hit-rate-interval VALUE[^\n]*\n[^\n]*default: 3s/);

  node(['scripts/docs.ts']);
  const doc = readFileSync(join(dir, 'docs', 'configuration.md'), 'utf8');
  assert.match(doc, /^\| `poll_interval` \| `--poll-interval` \|[^|]*\| `2\.5s` \|/m);
  assert.match(doc, /^\| `otlp\.timeout` \| `--otlp-timeout` \|[^|]*\| `7s` \|/m);
  assert.match(doc, /^\| `hit_rate_interval` \| `--hit-rate-interval` \|[^|]*\| `3s` \|/m);
  const example = readFileSync(join(dir, 'config', 'example.yaml'), 'utf8');
  assert.match(example, /^poll_interval: 2\.5s$/m);
  assert.match(example, /^ {2}timeout: 7s$/m);

  // and the unchanged tree is what the generator writes (nothing hand-written drifted)
  assert.equal(node(['scripts/docs.ts', '--check']).trim(), '');
});
