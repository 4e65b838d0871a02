/**
 * Duration bucket layouts: the seed's stay the default; `DYN_DURATION_BUCKETS=llm` reaches 600 s on
 * the worker's /metrics (promtool accepts it); explicit bounds are read; bad values are one-line
 * ConfigErrors; one process keeps one layout once an endpoint is served. (This file runs in its own
 * process: the layout is process-wide.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectInstrumented } from '../../instrumentation/index.ts';
import { DEFAULT_DURATION_BUCKETS, LLM_DURATION_BUCKETS, parseDurationBuckets } from '../../instrumentation/buckets.ts';
import { ConfigError } from '../../src/config/schema.ts';
import { ValueError } from '../../src/config/values.ts';
import { freePort } from '../support/process.ts';
import { testCluster } from '../support/servers.ts';
import { clusterEnv } from '../support/workers.ts';
import { promtool } from '../support/promtool.ts';

test("layouts: default is the seed's, llm reaches 600 s, explicit bounds are read, anything else refused", () => {
  assert.deepEqual(parseDurationBuckets('default'), [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  assert.equal(parseDurationBuckets('LLM'), LLM_DURATION_BUCKETS);
  assert.equal(LLM_DURATION_BUCKETS.at(-1), 600);
  assert.deepEqual(LLM_DURATION_BUCKETS.slice(0, DEFAULT_DURATION_BUCKETS.length), [...DEFAULT_DURATION_BUCKETS]);
  assert.deepEqual(parseDurationBuckets(' 0.5, 1,2 ,1e3'), [0.5, 1, 2, 1000]);
  for (const bad of [
    '',
    ' ',
    'x',
    '1,1',
    '2,1',
    '-1',
    '0',
    '1,,2',
    'NaN',
    'Infinity',
    '0x10',
    Array.from({ length: 65 }, (_, i) => i + 1).join(','),
    5 as unknown as string,
  ]) {
    assert.throws(
      () => parseDurationBuckets(bad),
      (err: Error) => err instanceof ValueError && !err.message.includes('\n'),
      `refused: ${JSON.stringify(bad)}`,
    );
  }
});

test('DYN_DURATION_BUCKETS=llm on a worker: buckets to 600 s on /metrics; a bad value or a second layout is a ConfigError', {
  timeout: 120_000,
}, async (t) => {
  const { cluster, defer } = await testCluster(t);
  await assert.rejects(
    connectInstrumented({ env: clusterEnv(cluster, { DYN_DURATION_BUCKETS: '10,5' }) }),
    (err: Error) => err instanceof ConfigError && /^DYN_DURATION_BUCKETS: "10,5" bounds must increase$/.test(err.message),
  );
  const port = await freePort();
  const drt = await connectInstrumented({
    env: clusterEnv(cluster, {
      DYN_DURATION_BUCKETS: 'llm',
      DYN_SYSTEM_ENABLED: 'true',
      DYN_SYSTEM_HOST: '127.0.0.1',
      DYN_SYSTEM_PORT: String(port),
    }),
  });
  defer(() => drt.shutdown());
  const ep = drt.namespace('b').component('c').endpoint('slow');
  await ep.serve(async () => {
    await new Promise((r) => setTimeout(r, 120));
    return 'ok';
  });
  const client = await ep.client();
  await client.random({}).collect();
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const lbl = 'dynamo_namespace="b",dynamo_component="c",dynamo_endpoint="slow"';
  const bucket = (le: string): number | undefined => {
    const m = new RegExp(
      `^dynamo_component_request_duration_seconds_bucket\\{[^}]*le="${le.replace(/[.+]/g, '\\$&')}"[^}]*\\} (\\S+)$`,
      'm',
    ).exec(
      text
        .split('\n')
        .filter((l) => l.includes('dynamo_endpoint="slow"'))
        .join('\n'),
    );
    return m === null ? undefined : Number(m[1]);
  };
  assert.ok(text.includes(lbl), "the endpoint's series, with its labels");
  assert.equal(bucket('0.1'), 0, 'a 120 ms request is above 0.1 s');
  assert.equal(bucket('0.25'), 1);
  assert.equal(bucket('600'), 1, 'the llm layout reaches 600 s');
  assert.equal(bucket('+Inf'), 1);
  promtool(text);
  // one process, one layout: another one now is refused
  await assert.rejects(
    connectInstrumented({ env: clusterEnv(cluster), durationBuckets: 'default', systemStatus: false }),
    (err: Error) => err instanceof ConfigError && /already fixed/.test(err.message),
  );
});
