/**
 * Redaction over generated credential shapes (seeded, `FUZZ_SEED` replays a failure): passwords
 * holding `/`, `@`, `:`, `%`, `#`, `?` or a space; URLs with a scheme, without one, with IPv6 hosts,
 * encoded or not; tokens alone; credential headers in every syntax an operator writes
 * (`Authorization: Bearer …`, `key=value`, JSON), inside error messages. The product registers the
 * secrets it is configured with (config options, NATS and etcd settings), so that even a shape no
 * pattern recognizes is hidden; the patterns alone must hide every shape without white space.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactText, registerSecret, registerUrlSecrets } from '../../src/redact.ts';
import { rng, SEED } from '../support/hostile.ts';

const SHAPES = 4000;
/** Letters and digits that appear in none of the templates, so a leaked piece is seen. */
const SAFE = 'QXZJKVWY0123456789';
const SPECIAL = ['/', '@', ':', '%', '#', '?', '!', '$', '&', '+', '=', '~', '*'];

interface Shape {
  text: string;
  secret: string;
  /** The URL or header as configured, for registering. */
  configured: string;
  spaces: boolean;
}

function generate(r: () => number, i: number): Shape {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const seg = (): string => Array.from({ length: 4 + Math.floor(r() * 6) }, () => pick([...SAFE])).join('');
  const spaces = i % 5 === 0;
  const parts = [seg()];
  for (let k = Math.floor(r() * 3); k > 0; k--) parts.push(spaces && k === 1 ? ' ' : pick(SPECIAL), seg());
  const secret = parts.join('');
  const host = pick(['nats-0.cluster.local', '127.0.0.1', '[::1]', 'etcd', 'collector.example.com']);
  const port = pick(['', ':4222', ':2379', ':4318']);
  const user = pick(['alice', 'svc-metrics', 'u']);
  const scheme = pick(['nats://', 'tls://', 'http://', 'https://', '']);
  const encoded = r() < 0.3;
  const pass = encoded ? encodeURIComponent(secret) : secret;
  let configured: string;
  switch (Math.floor(r() * 6)) {
    case 0:
    case 1:
      configured = `${scheme}${user}:${pass}@${host}${port}${pick(['', '/', '/v1/metrics'])}`;
      break;
    case 2:
      configured = `${scheme || 'https://'}${pass}@${host}${port}/metrics`; // a token alone as userinfo
      break;
    case 3:
      configured = `${pick(['Authorization', 'authorization', 'Proxy-Authorization'])}${pick([': ', '=', ':'])}${pick(['Bearer ', 'Basic ', ''])}${secret}`;
      break;
    case 4:
      configured = `${pick(['api-key', 'x-api-key', 'DD-API-KEY', 'x-honeycomb-team-token'])}${pick(['=', ': ', ':'])}${secret}`;
      break;
    default:
      configured = `{"${pick(['Authorization', 'api-key', 'X-Api-Key'])}":"${pick(['Bearer ', ''])}${secret}"}`;
  }
  const text = pick([
    `cannot connect to NATS at ${configured}: Authorization Violation`,
    `export failed endpoint=${configured} error="connect ECONNREFUSED"`,
    `${configured}`,
    `headers ${configured}, region=eu`,
  ]);
  return { text, secret, configured, spaces };
}

/** The secret's letter-and-digit runs that a leak would show (at least 4 characters each). */
function pieces(secret: string): string[] {
  return secret.split(/[^A-Z0-9]+/).filter((p) => p.length >= 4);
}

test(`the patterns alone hide every generated credential without white space (${SHAPES} shapes, seed ${SEED})`, () => {
  const r = rng(SEED);
  let checked = 0;
  for (let i = 0; i < SHAPES; i++) {
    const s = generate(r, i);
    if (s.spaces) continue;
    const out = redactText(s.text);
    for (const p of pieces(s.secret))
      assert.ok(!out.includes(p), `shape ${i}: ${JSON.stringify(s.text)} → ${JSON.stringify(out)} shows ${p}`);
    checked++;
  }
  assert.ok(checked > SHAPES / 2);
});

test(`registered secrets are hidden in every generated shape, white space included (${SHAPES} shapes, seed ${SEED})`, () => {
  const r = rng(SEED + 1);
  for (let i = 0; i < SHAPES; i++) {
    const s = generate(r, i);
    // as the config and connection code do: the URL's userinfo, the header's value
    if (s.configured.includes('@')) registerUrlSecrets(s.configured);
    registerSecret(s.secret);
    const out = redactText(s.text);
    assert.ok(!out.includes(s.secret), `shape ${i}: ${JSON.stringify(s.text)} → ${JSON.stringify(out)}`);
    assert.ok(!out.includes(encodeURIComponent(s.secret)) || encodeURIComponent(s.secret) === s.secret, `shape ${i}: encoded form shown`);
  }
});

test('hosts stay readable where nothing is secret; the examples of the issue are hidden', () => {
  assert.equal(
    redactText('cannot connect to NATS at nats://127.0.0.1:4222: timeout'),
    'cannot connect to NATS at nats://127.0.0.1:4222: timeout',
  );
  assert.equal(redactText('alice:SECRET@127.0.0.1:4222'), '***@127.0.0.1:4222');
  assert.equal(redactText('nats://alice:p@ss/w0rd@127.0.0.1:4222'), 'nats://***@127.0.0.1:4222');
  assert.equal(redactText('Authorization: Bearer eyJhbGciOi.payload.sig'), 'Authorization: ***');
  assert.equal(redactText('OTEL_EXPORTER_OTLP_HEADERS=api-key=K3Y'), 'OTEL_EXPORTER_OTLP_HEADERS=api-key=***');
  assert.equal(redactText('mail me at ops@example.com'), 'mail me at ops@example.com');
  assert.equal(redactText('a tokenizer of 32000 tokens'), 'a tokenizer of 32000 tokens');
});
