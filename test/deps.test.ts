/**
 * One copy of each OpenTelemetry and NATS package: duplicates break `instanceof` checks and the
 * global error handler (the pins in package.json are exact and matching).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

test('package-lock.json installs exactly one version of every @opentelemetry and @nats-io package', () => {
  const lock = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string }>;
  };
  const versions = new Map<string, Set<string>>();
  for (const [path, info] of Object.entries(lock.packages)) {
    const m = /node_modules\/(@opentelemetry\/[^/]+|@nats-io\/[^/]+)$/.exec(path);
    if (m === null || info.version === undefined) continue;
    const set = versions.get(m[1]!) ?? new Set<string>();
    set.add(info.version);
    versions.set(m[1]!, set);
  }
  assert.ok(versions.has('@opentelemetry/sdk-metrics'));
  for (const [name, set] of versions) assert.equal(set.size, 1, `${name}: ${[...set].join(', ')}`);
  assert.deepEqual([...versions.get('@opentelemetry/sdk-metrics')!], ['2.12.0']);
  assert.ok([...versions.get('@opentelemetry/api')!][0]!.startsWith('1.9.'));
});
