/**
 * BasicAuthGate alone (src/export/webConfig.ts), with a comparison that the test controls: unknown
 * users cost a comparison like known ones, successes are cached, comparisons run in a bounded
 * pool, a source that keeps failing is refused without one, and hash versions the library cannot
 * check are refused when the config is read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import {
  BasicAuthGate,
  loadWebConfig,
  MAX_BCRYPT_IN_FLIGHT,
  MAX_BCRYPT_QUEUED,
  MAX_FAILURES_PER_SOURCE,
} from '../../src/export/webConfig.ts';
import { ConfigError } from '../../src/errors.ts';
import { tempDir } from '../support/process.ts';

const HASH = `$2b$10$${'a'.repeat(53)}`;
const req = (user: string, pass: string, source = '10.0.0.1'): IncomingMessage =>
  ({
    headers: { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` },
    socket: { remoteAddress: source },
  }) as unknown as IncomingMessage;

test('an unknown user costs a comparison against a hash of the same version and cost; a success is cached', async () => {
  const calls: string[] = [];
  const gate = new BasicAuthGate(new Map([['prom', HASH]]), async (p, h) => {
    calls.push(`${p}|${h.slice(0, 7)}|${h === HASH ? 'real' : 'dummy'}`);
    return p === 'right' && h === HASH;
  });
  assert.equal(await gate.allows(req('nobody', 'x')), false);
  assert.equal(await gate.allows(req('prom', 'wrong')), false);
  assert.deepEqual(calls, ['x|$2b$10$|dummy', 'wrong|$2b$10$|real']);
  assert.equal(await gate.allows(req('prom', 'right')), true);
  assert.equal(await gate.allows(req('prom', 'right')), true);
  assert.equal(calls.length, 3, 'the second success came from the cache');
});

test('comparisons run in a bounded pool: beyond the queue a request is refused at once; cached credentials always get in', async () => {
  const pending: ((ok: boolean) => void)[] = [];
  let running = 0;
  let most = 0;
  const gate = new BasicAuthGate(new Map([['prom', HASH]]), (p) => {
    running++;
    most = Math.max(most, running);
    if (p === 'right') {
      running--;
      return Promise.resolve(true);
    }
    return new Promise((resolve) =>
      pending.push((ok) => {
        running--;
        resolve(ok);
      }),
    );
  });
  assert.equal(await gate.allows(req('prom', 'right', '10.0.0.9')), true); // cached from now on
  const floods = Array.from({ length: MAX_BCRYPT_IN_FLIGHT + MAX_BCRYPT_QUEUED }, (_, i) =>
    gate.allows(req('prom', `wrong${i}`, `10.1.0.${i}`)),
  );
  await new Promise((r) => setImmediate(r));
  assert.equal(pending.length, MAX_BCRYPT_IN_FLIGHT, 'only the pool runs');
  assert.equal(await gate.allows(req('prom', 'one-too-many', '10.2.0.1')), false, 'refused without waiting');
  assert.equal(await gate.allows(req('prom', 'right', '10.0.0.9')), true, 'the scraper gets in during the flood');
  while (pending.length > 0) {
    pending.shift()!(false);
    await new Promise((r) => setImmediate(r));
  }
  assert.deepEqual(
    await Promise.all(floods),
    floods.map(() => false),
  );
  assert.equal(most, MAX_BCRYPT_IN_FLIGHT, 'never more comparisons at once than the pool');
});

test('a source that keeps failing is refused without a comparison; others are not', async () => {
  let calls = 0;
  const gate = new BasicAuthGate(new Map([['prom', HASH]]), async () => {
    calls++;
    return false;
  });
  for (let i = 0; i < MAX_FAILURES_PER_SOURCE; i++) await gate.allows(req('prom', `w${i}`, '10.9.9.9'));
  assert.equal(calls, MAX_FAILURES_PER_SOURCE);
  assert.equal(await gate.allows(req('prom', 'again', '10.9.9.9')), false);
  assert.equal(calls, MAX_FAILURES_PER_SOURCE, 'no comparison for it');
  await gate.allows(req('prom', 'x', '10.9.9.8'));
  assert.equal(calls, MAX_FAILURES_PER_SOURCE + 1, 'another source is still checked');
});

test('hash versions the library cannot check are refused when the config is read', () => {
  const dir = tempDir('dyn-webcfg-');
  for (const [version, ok] of [
    ['2a', true],
    ['2b', true],
    ['2y', true],
    ['2x', false],
    ['2', false],
  ] as const) {
    const file = join(dir, `${version}.yml`);
    writeFileSync(file, `basic_auth_users:\n  prom: "$${version}$10$${'a'.repeat(53)}"\n`);
    if (ok) assert.equal(loadWebConfig(file).users.size, 1, version);
    else
      assert.throws(
        () => loadWebConfig(file),
        (err: unknown) => err instanceof ConfigError && /version 2a, 2b or 2y/.test(err.message),
        version,
      );
  }
});
