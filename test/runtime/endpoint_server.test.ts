/**
 * `EndpointServer` on its own, against a real nats-server: each step of the request path
 * (decode, handler, one response, a stream, cancellation, shutdown) as the wire and the observer
 * see it. The runtime's own tests cover it behind `DistributedRuntime`; these name each branch.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { CANCEL_HEADER, decodeFrame, type DecodedFrame } from '../../src/runtime/codec.ts';
import { EndpointServer, type Handler, type ServeOptions } from '../../src/runtime/EndpointServer.ts';
import { MicroService } from '../../src/runtime/MicroService.ts';
import type { EndpointErrorType, EndpointObserver } from '../../src/runtime/observer.ts';
import { startNats, type NatsServer } from '../support/servers.ts';

/** Every observer call, in order. */
class RecordingObserver implements EndpointObserver {
  readonly calls: string[] = [];
  readonly errors: EndpointErrorType[] = [];
  readonly chunkTimes: [number, number | undefined][] = [];
  responseBytesTotal = 0;
  requestStarted(n: number): void {
    this.calls.push(`started:${n}`);
  }
  responseBytes(n: number): void {
    this.responseBytesTotal += n;
  }
  error(type: EndpointErrorType): void {
    this.errors.push(type);
    this.calls.push(`error:${type}`);
  }
  requestFinished(): void {
    this.calls.push('finished');
  }
  streamChunk(sinceStart: number, sinceLast: number | undefined): void {
    this.chunkTimes.push([sinceStart, sinceLast]);
  }
  streamFinished(chunks: number): void {
    this.calls.push(`streamFinished:${chunks}`);
  }
  cancelled(): void {
    this.calls.push('cancelled');
  }
}

const IDENTITY = { namespace: 'ns', component: 'comp', endpoint: 'ep' };

describe('EndpointServer', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let service: MicroService;
  let nextId = 1n;

  before(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.url });
    service = new MicroService(nc, { name: 'ns_comp', description: 'test' });
    service.start();
  });
  after(async () => {
    service.stop();
    await nc.close();
    await nats.stop();
  });

  function serve(handler: Handler<unknown>, opts: ServeOptions = {}): { server: EndpointServer; obs: RecordingObserver } {
    const obs = new RecordingObserver();
    const server = new EndpointServer(IDENTITY, nc, service, handler, obs, opts);
    server.bind(nextId++);
    return { server, obs };
  }

  /** Sends `body` and collects the reply frames until a last, end or error frame. */
  async function call(server: EndpointServer, body: Uint8Array | string): Promise<DecodedFrame[]> {
    await nc.flush();
    const inbox = `_INBOX.test.${nextId++}`;
    const frames: DecodedFrame[] = [];
    const done = new Promise<void>((resolve) => {
      const sub = nc.subscribe(inbox, {
        callback: (_err, msg) => {
          const f = decodeFrame(msg.data);
          frames.push(f);
          if (f.type !== 'data') {
            sub.unsubscribe();
            resolve();
          }
        },
      });
    });
    nc.publish(server.subject, typeof body === 'string' ? new TextEncoder().encode(body) : body, { reply: inbox });
    await done;
    return frames;
  }

  const text = (f: DecodedFrame | undefined): string =>
    f !== undefined && (f.type === 'data' || f.type === 'last') ? new TextDecoder().decode(f.payload) : `<${f?.type}>`;

  it('answers one response as a last frame and counts it', async () => {
    const { server, obs } = serve((req) => ({ echo: req }));
    const frames = await call(server, '{"n": 12345678901234567890}');
    assert.deepEqual(frames.map(text), ['{"echo":{"n":12345678901234567890}}']);
    assert.deepEqual(obs.calls, ['started:27', 'finished']);
    assert.equal(obs.responseBytesTotal, 35);
    assert.equal(server.counters.numRequests, 1);
    assert.equal(server.counters.numErrors, 0);
    assert.equal(server.inflightRequests, 0);
  });

  it('hands the raw bytes over when decode is bytes', async () => {
    let got: unknown;
    const { server } = serve(
      (req) => {
        got = req;
        return 'ok';
      },
      { decode: 'bytes' },
    );
    await call(server, 'not json');
    assert.ok(got instanceof Uint8Array);
    assert.equal(new TextDecoder().decode(got), 'not json');
  });

  it('answers a body that is not JSON with a deserialization error, without calling the handler', async () => {
    let called = false;
    const { server, obs } = serve(() => {
      called = true;
    });
    const frames = await call(server, '{oops');
    assert.equal(called, false);
    assert.equal(frames.length, 1);
    assert.equal(frames[0]?.type, 'error');
    assert.equal(frames[0]?.type === 'error' && frames[0].errorType, 'deserialization');
    assert.deepEqual(obs.errors, ['deserialization']);
    assert.equal(server.counters.numErrors, 1);
    assert.match(server.counters.lastError, /^deserialization: /);
  });

  it('answers a handler that throws with a generate error carrying its message', async () => {
    const { server, obs } = serve(() => {
      throw new Error('engine on fire');
    });
    const frames = await call(server, '{}');
    assert.deepEqual(frames, [{ type: 'error', message: 'engine on fire', errorType: 'generate' }]);
    assert.deepEqual(obs.calls, ['started:2', 'error:generate', 'finished']);
    assert.equal(server.counters.lastError, 'generate: engine on fire');
  });

  it('streams each chunk as a data frame then an end frame, timing every chunk', async () => {
    const { server, obs } = serve(async function* () {
      yield 'a';
      yield { b: 1 };
      yield new Uint8Array([0x63]);
    });
    const frames = await call(server, '{}');
    assert.deepEqual(frames.map(text), ['a', '{"b":1}', 'c', '<end>']);
    assert.deepEqual(obs.calls, ['started:2', 'streamFinished:3', 'finished']);
    assert.equal(obs.chunkTimes.length, 3);
    assert.equal(obs.chunkTimes[0]?.[1], undefined, 'the first chunk has no inter-chunk time');
    assert.ok(obs.chunkTimes.slice(1).every(([s, l]) => s >= 0 && l !== undefined && l >= 0));
    assert.equal(obs.responseBytesTotal, 1 + 7 + 1);
  });

  it('ends a stream whose iterator throws with a response_stream error after the chunks sent', async () => {
    const { server, obs } = serve(async function* () {
      yield 'a';
      throw new Error('mid-stream');
    });
    const frames = await call(server, '{}');
    assert.equal(text(frames[0]), 'a');
    assert.deepEqual(frames[1], { type: 'error', message: 'response stream failed: mid-stream', errorType: 'response_stream' });
    assert.deepEqual(obs.calls, ['started:2', 'error:response_stream', 'streamFinished:1', 'finished']);
  });

  it('counts a message without a reply subject as invalid_message and answers nothing', async () => {
    let called = false;
    const { server, obs } = serve(() => {
      called = true;
    });
    nc.publish(server.subject, new TextEncoder().encode('{}'));
    await nc.flush();
    await waitFor(() => obs.calls.includes('finished'));
    assert.equal(called, false);
    assert.deepEqual(obs.errors, ['invalid_message']);
    assert.equal(server.counters.numErrors, 1);
  });

  it('a cancellation ends a waiting stream, closes the handler generator and is observed once', async () => {
    let closed = false;
    let signalled = false;
    const { server, obs } = serve(async function* (_req, ctx) {
      ctx.signal.addEventListener('abort', () => {
        signalled = true;
      });
      try {
        yield 'first';
        // yields nothing more; ends only when told to (a generator cannot be closed while it awaits)
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
      } finally {
        closed = true;
      }
    });
    const inbox = `_INBOX.cancel.${nextId++}`;
    const frames: DecodedFrame[] = [];
    const sub = nc.subscribe(inbox, {
      callback: (_e, m: Msg) => {
        frames.push(decodeFrame(m.data));
      },
    });
    nc.publish(server.subject, new TextEncoder().encode('{}'), { reply: inbox });
    await waitFor(() => frames.length === 1);
    const h = headers();
    h.set(CANCEL_HEADER, inbox);
    nc.publish(server.subject, new Uint8Array(0), { headers: h });
    await waitFor(() => obs.calls.includes('finished'));
    await waitFor(() => closed);
    sub.unsubscribe();
    assert.equal(signalled, true, "the handler's signal is aborted");
    assert.deepEqual(obs.calls, ['started:2', 'cancelled', 'streamFinished:1', 'finished'], 'the cancellation itself is not a request');
    assert.deepEqual(frames.map(text), ['first'], 'no end frame after a cancellation');
    assert.equal(server.counters.numRequests, 1);
    assert.equal(server.counters.numErrors, 0);
  });

  it('drain waits for requests in flight, then aborts the handlers still running', async () => {
    let release: () => void = () => undefined;
    const { server } = serve(
      (_req, ctx) =>
        new Promise((resolve) => {
          release = () => resolve('late');
          ctx.signal.addEventListener('abort', () => resolve('aborted'));
        }),
    );
    const reply = call(server, '{}');
    await waitFor(() => server.inflightRequests === 1);
    assert.equal(await server.drain(50), false, 'gave up waiting');
    assert.deepEqual((await reply).map(text), ['aborted'], 'strings go out as UTF-8');
    assert.equal(server.inflightRequests, 0);
    release();

    const { server: quick } = serve(() => 'ok');
    assert.equal(await quick.drain(50), true, 'nothing in flight: idle at once');
  });

  it('a new instance id: listenAlso answers on both subjects, bind keeps the new one only, registrations name the id asked for', async () => {
    const { server } = serve(() => 'ok');
    const oldSubject = server.subject;
    const newId = nextId++;
    server.listenAlso(newId);
    const newSubject = server.registrations(newId)[0]?.value.match(/"nats_tcp": "([^"]+)"/)?.[1];
    assert.ok(newSubject !== undefined && newSubject !== oldSubject, 'the new id has its own subject');
    assert.equal(server.subject, oldSubject, 'still bound to the old id');
    assert.match(server.registrations()[0]?.key ?? '', new RegExp(`:${server.id.toString(16)}$`));
    await nc.flush();
    for (const subject of [oldSubject, newSubject]) {
      const reply = await nc.request(subject, new TextEncoder().encode('{}'), { timeout: 2_000 });
      assert.equal(text(decodeFrame(reply.data)), 'ok', subject);
    }
    server.bind(newId);
    assert.equal(server.subject, newSubject);
    await nc.flush();
    await assert.rejects(nc.request(oldSubject, new Uint8Array(0), { timeout: 500 }), /503|no responders/i);
    server.stopAccepting();
  });

  it('stopAccepting leaves the queue group: later requests reach nobody', async () => {
    const { server, obs } = serve(() => 'ok');
    server.stopAccepting();
    await nc.flush();
    await assert.rejects(nc.request(server.subject, new Uint8Array(0), { timeout: 500 }), /503|no responders/i);
    assert.deepEqual(obs.calls, []);
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
