/**
 * Hostile input: a corpus kept in the repo (test/reliability/corpus/bad_input.json) plus a seeded
 * random generator, thousands of cases per run, for stats replies, hit-rate events, label values
 * and flags. Each case: no crash, no misattribution to another worker, counted under its reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { CycleCollector } from '../../src/aggregator/CycleCollector.ts';
import { parseStatsReply } from '../../src/aggregator/statsReply.ts';
import { HitRateTracker, decodeHitRateEvent } from '../../src/aggregator/HitRateTracker.ts';
import { metricsOptions } from '../../src/aggregator/options.ts';
import { ConfigError, loadOptions } from '../../src/config/schema.ts';
import { PullMetricReader } from '../../src/export/PullMetricReader.ts';
import { serializePrometheus } from '../../src/export/PrometheusSerializer.ts';
import { series } from '../support/exposition.ts';
import { promtool } from '../support/promtool.ts';
import { CORPUS, SERVICE, ENDPOINT, enc, rng, SEED, endpointJson, goodData, subjectOf, garbageEndpoint } from '../support/hostile.ts';

test('corpus: every stats reply is parsed on its own without throwing; only the listed ones yield workers, each rejection with its listed reason', () => {
  for (const c of CORPUS.stats_replies) {
    let parsed: ReturnType<typeof parseStatsReply> | undefined;
    assert.doesNotThrow(() => {
      parsed = parseStatsReply(enc.encode(c.body), SERVICE, ENDPOINT);
    }, c.case);
    assert.deepEqual(
      parsed!.workers.map((w) => w.workerId.toString(16)),
      c.accepts ?? [],
      c.case,
    );
    assert.deepEqual(parsed!.rejected, c.rejected, `${c.case}: the reasons counted`);
    // a case yields workers, or is ignored (another endpoint: nothing to count), or is counted
    assert.ok(
      (c.accepts ?? []).length > 0 || c.case.includes('(ignored)') || c.rejected.length > 0,
      `${c.case}: neither accepted, ignored nor counted`,
    );
  }
  const huge = `{"endpoints":[${endpointJson(subjectOf(5n), `{"request_active_slots":1,"request_total_slots":10,"kv_active_blocks":3,"kv_total_blocks":100,"pad":"${'x'.repeat(2_000_000)}"}`)}]}`;
  const p = parseStatsReply(enc.encode(huge), SERVICE, ENDPOINT);
  assert.deepEqual(
    p.workers.map((w) => [w.workerId, w.metrics.kvActiveBlocks]),
    [[5n, 3]],
    'a 2 MB reply parses; its worker keeps its numbers',
  );
});

test(`generator (seed ${SEED}): 5,000 stats replies mixing good and garbage endpoints; no good worker misattributed`, () => {
  const r = rng(SEED);
  let rejected = 0;
  let conflicts = 0;
  for (let n = 0; n < 5000; n++) {
    const good = new Map<bigint, number>();
    const parts: string[] = [];
    const k = 1 + Math.floor(r() * 8);
    for (let i = 0; i < k; i++) {
      const id = 7587884888253033398n + BigInt(Math.floor(r() * 1000));
      if (r() < 0.5 && !good.has(id)) {
        const kv = Math.floor(r() * 100);
        good.set(id, kv);
        parts.push(endpointJson(subjectOf(id), goodData(kv)));
      } else {
        parts.push(garbageEndpoint(r, good.has(id) ? id + 5000n : id));
      }
    }
    // a valid second answer for a good worker after it, with other numbers: a conflict, neither is
    // believed (the same numbers twice would be a duplicate, believed once)
    const firstGood = good.keys().next();
    const duplicated = !firstGood.done && r() < 0.2 ? firstGood.value : undefined;
    if (duplicated !== undefined) parts.push(endpointJson(subjectOf(duplicated), goodData(good.get(duplicated) === 99 ? 98 : 99)));
    const body =
      r() < 0.02 ? `${parts.join(',').slice(0, 30)}` : `{"type":"io.nats.micro.v1.stats_response","endpoints":[${parts.join(',')}]}`;
    let parsed: ReturnType<typeof parseStatsReply>;
    try {
      parsed = parseStatsReply(enc.encode(body), SERVICE, ENDPOINT);
    } catch (err) {
      assert.fail(`case ${n} threw: ${String(err)}\n${body.slice(0, 500)}`);
    }
    rejected += parsed.rejected.length;
    // what the aggregator believes of this reply (every id registered at its subject)
    const collector = new CycleCollector(new Map(parsed.workers.map((w) => [w.workerId, subjectOf(w.workerId)])));
    collector.add(parsed);
    const seen = collector.workers;
    let wholeDocumentValid = true;
    try {
      JSON.parse(body);
    } catch {
      wholeDocumentValid = false; // e.g. a NaN token: one reply is one document, nothing in it can be trusted
    }
    if (wholeDocumentValid) {
      for (const [id, kv] of good) {
        if (id === duplicated) {
          assert.equal(seen.get(id), undefined, `case ${n}: worker ${id} claimed twice is not believed`);
          assert.ok(collector.conflicts.has(id) && (collector.rejected.get('conflict') ?? 0) >= 2, `case ${n}: the conflict is counted`);
          conflicts++;
        } else assert.equal(seen.get(id)?.metrics.kvActiveBlocks, kv, `case ${n}: worker ${id} keeps its own numbers`);
      }
    } else {
      assert.deepEqual(parsed.workers, [], `case ${n}: an unparseable reply yields no worker`);
      assert.deepEqual(parsed.rejected, ['bad_json']);
    }
    for (const id of seen.keys()) assert.ok(good.has(id), `case ${n}: no worker invented (${id})`);
  }
  assert.ok(rejected > 5000, `${rejected} rejections counted`);
  assert.ok(conflicts > 100, `${conflicts} conflicts met`);
});

test(`events: the corpus gives each its reason; the generator (seed ${SEED}) never throws and never miscounts`, () => {
  for (const c of CORPUS.events) {
    const body = c.body_hex ? Uint8Array.from(c.body_hex.split(' ').map((h) => parseInt(h, 16))) : c.body!;
    const d = decodeHitRateEvent(body);
    assert.equal(typeof d === 'string' ? d : null, c.reason, c.case);
  }
  const r = rng(SEED + 1);
  const t = new HitRateTracker();
  const known = 7587884888253033398n;
  let isl = 0;
  let overlap = 0;
  const mutate = (s: string): string => {
    const i = Math.floor(r() * s.length);
    const ops = [
      () => s.slice(0, i),
      () => s.slice(0, i) + s.slice(i + 1),
      () => s.slice(0, i) + String.fromCharCode(Math.floor(r() * 128)) + s.slice(i),
      () => s.replace(/\d+/, String(-Math.floor(r() * 10))),
      () => s.replace('isl_blocks', 'isl'),
      () => s.replace(/\d+\}/, '1e999}'),
    ];
    return ops[Math.floor(r() * ops.length)]!();
  };
  for (let n = 0; n < 10_000; n++) {
    const a = Math.floor(r() * 100);
    const b = Math.floor(r() * (a + 1));
    const valid = `{"worker_id":${known},"isl_blocks":${a},"overlap_blocks":${b}}`;
    if (r() < 0.3) {
      isl += a;
      overlap += b;
      assert.equal(t.ingest(valid), undefined);
    } else {
      // garbage is counted, and never lands on the known worker under another shape
      const g = mutate(mutate(valid));
      const before = t.get(known) ? { ...t.get(known)! } : undefined;
      let reason: string | undefined;
      assert.doesNotThrow(() => {
        reason = t.ingest(g);
      }, g);
      if (reason === undefined) {
        // a mutation that is still a valid event: account for it exactly as decoded
        const d = decodeHitRateEvent(g);
        assert.ok(typeof d !== 'string');
        if (d.workerId === known) {
          isl += d.islBlocks;
          overlap += d.overlapBlocks;
        } else {
          assert.deepEqual(t.get(known) ?? undefined, before, 'another worker id must not touch the known worker');
        }
      }
    }
  }
  assert.deepEqual(t.get(known), { islBlocks: isl, overlapBlocks: overlap }, 'exact totals');
  const rejections = [...t.rejections().values()].reduce((x, y) => x + y, 0);
  assert.ok(rejections > 1000, `${rejections} rejections counted by reason: ${JSON.stringify(Object.fromEntries(t.rejections()))}`);
});

test(`label values with quotes, backslashes, newlines and unicode keep the exposition valid (seed ${SEED})`, async () => {
  const r = rng(SEED + 2);
  const alphabet = ['"', '\\', '\n', 'a', 'Z', '0', ' ', 'ü', '€', '🚀', '\u0000', '\t', '{', '}', '=', ',', '#', "'", '\r'];
  const reader = new PullMetricReader();
  const mp = new MeterProvider({ readers: [reader] });
  const c = mp.getMeter('fuzz').createCounter('fuzz_values_total', { description: 'help with "quotes", \\ and\nnewlines' });
  const values = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    let v = '';
    const len = Math.floor(r() * 12);
    for (let j = 0; j < len; j++) v += alphabet[Math.floor(r() * alphabet.length)];
    values.add(v);
    c.add(1, { v, 'weird-name.x': v });
  }
  const text = serializePrometheus(await reader.collectAll(5000));
  promtool(text);
  assert.equal(series(text, 'fuzz_values_total').length, values.size);
  await mp.shutdown();
});

test('flags: every option with empty, wrong-type and out-of-range values gives a one-line ConfigError, or is a value the option really allows', () => {
  const bad = ['', ' ', 'abc', '-1', '0', '99999999999', '1e3', '1.5', 'null', '{}', '[1]', 'http://', 'nats://', '::', '\n', '"', 'x=y'];
  const NAME_LIKE = ['abc', '-1', '0', '99999999999', '1e3', 'null'];
  const ANY_TEXT = ['abc', '-1', '0', '99999999999', '1e3', '1.5', 'null', '{}', '[1]', 'http://', 'nats://', '::', '"', 'x=y'];
  // what each option legitimately takes from the list; everything else must be refused
  const allowed: Record<string, string[]> = {
    namespace: NAME_LIKE,
    component: NAME_LIKE,
    endpoint: NAME_LIKE,
    'poll-interval': ['1.5'], // seconds
    host: ['::'], // every IPv6 address
    port: ['0'], // a free port
    'service-name': ANY_TEXT,
    'resource-attribute': ['', ' ', '\n', 'x=y'], // empty lists and one pair
    'otlp-header': ['', ' ', '\n', 'x=y'],
    'prometheus-collect-timeout': ['1.5'],
    'prometheus-header-timeout': ['1.5'],
    'prometheus-request-timeout': ['1.5'],
    'prometheus-write-timeout': ['1.5'],
    'max-missed-cycles': ['0'], // drop at the first miss
    'otlp-timeout': ['1.5'],
    'otlp-interval': ['1.5'],
    'pushgateway-job': ANY_TEXT,
    'pushgateway-instance': ['', ' ', ...ANY_TEXT], // the instance label may be empty
    'pushgateway-username': ANY_TEXT,
    'service-namespace': ANY_TEXT,
    'service-instance-id': ANY_TEXT,
    'push-interval': ['1.5'],
    'pushgateway-timeout': ['1.5'],
  };
  const accepted: Record<string, string[]> = {};
  let errors = 0;
  for (const spec of Object.values(metricsOptions())) {
    if (spec.flag === undefined || ('boolean' in spec && spec.boolean)) continue;
    for (const v of bad) {
      try {
        loadOptions(metricsOptions(), { argv: ['--component', 'c', '--endpoint', 'e', `--${spec.flag}`, v], env: {} });
        accepted[spec.flag] ??= [];
        accepted[spec.flag]!.push(v);
      } catch (err) {
        assert.ok(err instanceof ConfigError, `--${spec.flag} ${JSON.stringify(v)} threw ${String(err)}`);
        assert.doesNotMatch(err.message, /\n/, `--${spec.flag} ${JSON.stringify(v)}: one line`);
        errors++;
      }
    }
  }
  assert.deepEqual(accepted, Object.fromEntries(Object.entries(allowed).map(([k, v]) => [k, bad.filter((b) => v.includes(b))])));
  assert.ok(errors > 300, `${errors} rejections`);
});
