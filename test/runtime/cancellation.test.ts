/**
 * Cancellation over NATS: a client that leaves a stream early (`break`) or aborts its
 * `AbortSignal` tells the worker; the handler's context signal aborts, its stream stops (no more
 * chunks produced), `dynamo_component_cancellation_total` counts it and in-flight goes back to 0;
 * the aborting caller gets a `CancelledError`. Real NATS and etcd; the worker's own status server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CancelledError,
  InstanceGoneError,
  NoInstancesError,
  NoRespondersError,
  RemoteError,
  RequestTimeoutError,
  ShutdownError,
} from '../../src/runtime/index.ts';
import { clientErrorType } from '../../src/runtime/Client.ts';
import { startInstrumentedWorker } from '../support/instrumented.ts';
import { sleep, waitUntil } from '../support/process.ts';
import { sample } from '../support/exposition.ts';

const LBL = { dynamo_namespace: 'cx', dynamo_component: 'llm', dynamo_endpoint: 'generate' };

test('leaving a stream early and aborting a request both reach the worker: signal aborted, stream stopped, counted, in-flight 0', {
  timeout: 120_000,
}, async (t) => {
  const { drt, scrape } = await startInstrumentedWorker(t);
  let produced = 0;
  let streamSignalAborted = false;
  let unarySignalAborted = false;
  let unaryStarted = false;
  const ep = drt.namespace('cx').component('llm').endpoint('generate');
  await ep.serve<{ mode: string }>((req, ctx) => {
    if (req.mode === 'wait') {
      // a long unary request that gives up when told
      unaryStarted = true;
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve('too late'), 60_000);
        ctx.signal.addEventListener('abort', () => {
          unarySignalAborted = true;
          clearTimeout(timer);
          resolve('stopped');
        });
      });
    }
    ctx.signal.addEventListener('abort', () => (streamSignalAborted = true));
    return (async function* () {
      for (let i = 0; i < 10_000; i++) {
        produced++;
        yield { token: i };
        await sleep(10);
      }
    })();
  });
  const client = await ep.client();

  // 1. the caller leaves a stream after three chunks
  let got = 0;
  for await (const _ of client.random({ mode: 'stream' })) {
    if (++got === 3) break;
  }
  await waitUntil('the worker learns it', () => (streamSignalAborted ? true : undefined), 10_000, 10);
  const atCancel = produced;
  await sleep(300);
  assert.ok(produced <= atCancel + 1, `the handler's stream stopped (${atCancel} then ${produced})`);
  assert.ok(produced < 100, `far fewer chunks than the stream would have made (${produced})`);

  // 2. the caller aborts a request while the worker still works on it
  const ac = new AbortController();
  const pending = client.random({ mode: 'wait' }, { signal: ac.signal }).collect();
  await waitUntil('the worker has the request', () => (unaryStarted ? true : undefined), 10_000, 10);
  const t0 = performance.now();
  ac.abort();
  await assert.rejects(pending, CancelledError);
  assert.ok(performance.now() - t0 < 1_000, 'the caller is released at once');
  await waitUntil('the unary handler told', () => (unarySignalAborted ? true : undefined), 10_000, 10);
  // an already aborted signal: not even sent
  await assert.rejects(client.random({ mode: 'wait' }, { signal: AbortSignal.abort() }).collect(), CancelledError);

  const text = await waitUntil(
    'counted',
    async () => {
      const x = await scrape();
      return sample(x, 'dynamo_component_cancellation_total', LBL) === 2 && sample(x, 'dynamo_component_inflight_requests', LBL) === 0
        ? x
        : undefined;
    },
    10_000,
    50,
  );
  assert.equal(
    sample(text, 'dynamo_component_errors_total', { ...LBL, error_type: 'response_stream' }) ?? 0,
    0,
    'a cancellation is not an error',
  );
  assert.equal(sample(text, 'dynamo_component_response_chunks_count', LBL), 1, 'the cancelled stream ended (chunks recorded once)');
});

test('client-side metrics: requests, duration and failures by type, with the endpoint labels', { timeout: 120_000 }, async (t) => {
  const { drt, scrape } = await startInstrumentedWorker(t);
  const ep = drt.namespace('cm').component('llm').endpoint('generate');
  await ep.serve<{ mode: string }>((req) => {
    if (req.mode === 'fail') throw new Error('engine failed');
    if (req.mode === 'slow') return new Promise((resolve) => setTimeout(() => resolve('late'), 2_000));
    return 'ok';
  });
  const client = await ep.client();
  for (let i = 0; i < 3; i++) await client.random({ mode: 'ok' }).collect();
  await assert.rejects(client.random({ mode: 'fail' }).collect());
  await assert.rejects(client.random({ mode: 'slow' }, { timeoutMs: 300 }).collect());
  await assert.rejects(client.random({ mode: 'ok' }, { signal: AbortSignal.abort() }).collect(), CancelledError);
  const lbl = { dynamo_namespace: 'cm', dynamo_component: 'llm', dynamo_endpoint: 'generate' };
  const text = await scrape();
  assert.equal(sample(text, 'dynamo_client_requests_total', lbl), 6);
  assert.equal(sample(text, 'dynamo_client_errors_total', { ...lbl, error_type: 'remote_error' }), 1);
  assert.equal(sample(text, 'dynamo_client_errors_total', { ...lbl, error_type: 'timeout' }), 1);
  assert.equal(sample(text, 'dynamo_client_errors_total', { ...lbl, error_type: 'cancelled' }), 1);
  assert.equal(sample(text, 'dynamo_client_request_duration_seconds_count', lbl), 6);
  assert.ok((sample(text, 'dynamo_client_request_duration_seconds_sum', lbl) ?? 0) >= 0.3, 'the timed-out request counts its wait');
});

test('each client failure has its own error_type', () => {
  assert.equal(clientErrorType(new RequestTimeoutError('t')), 'timeout');
  assert.equal(clientErrorType(new NoRespondersError(1n, 'n')), 'no_responders');
  assert.equal(clientErrorType(new InstanceGoneError(1n, 'g')), 'instance_gone');
  assert.equal(clientErrorType(new NoInstancesError('i')), 'no_instances');
  assert.equal(clientErrorType(new RemoteError('r', 'generate')), 'remote_error');
  assert.equal(clientErrorType(new CancelledError('c')), 'cancelled');
  assert.equal(clientErrorType(new ShutdownError('s')), 'shutdown');
  assert.equal(clientErrorType(new Error('?')), 'other');
});
