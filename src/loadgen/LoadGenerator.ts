/**
 * Sends a workload to an OpenAI-compatible server and measures each request at the client as
 * serving benchmarks do: time to first token (the first chunk that carries text), inter-token
 * latency (between chunks that carry text, each split evenly over the tokens it carries), end to
 * end latency, and the output tokens received (the usage the server reports when asked with
 * `stream_options.include_usage`, else one per text chunk). Requests go out at a fixed rate
 * (Poisson arrivals) or keep a fixed number in flight.
 */
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { errorMessage } from '../errors.ts';
import { seededRandom } from '../random.ts';
import { type Summary, summarize } from './stats.ts';
import type { WorkloadRequest } from './workload.ts';

export interface LoadOptions {
  /** Base URL, e.g. `http://127.0.0.1:8000`. */
  url: string;
  model: string;
  /** `chat` (`/v1/chat/completions`) or `completions`. */
  api: 'chat' | 'completions';
  stream: boolean;
  /** Requests in flight at once (when `rate` is 0). */
  concurrency: number;
  /** Requests started per second, Poisson arrivals; 0: keep `concurrency` in flight. */
  rate: number;
  /** Gives up on a request after this long. */
  timeoutMs: number;
  /** Starts no request after this long (0: none, the workload decides). */
  durationMs?: number;
  /** Told of each request as it ends (the GenAI client instruments). */
  onResult?: (r: RequestResult) => void;
  seed: number;
}

/** One request as the client saw it. */
export interface RequestResult {
  ok: boolean;
  /** HTTP status, or 0 when no response came. */
  status: number;
  error?: string;
  inputTokens: number;
  outputTokens: number;
  ttftSeconds: number | undefined;
  /** One entry per token after the first. */
  itlSeconds: number[];
  e2eSeconds: number;
  cachedTokens: number;
}

export interface LoadReport {
  requests: number;
  completed: number;
  failed: number;
  /** Failures by HTTP status (`0`: no response). */
  failures: Record<string, number>;
  durationSeconds: number;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  requestThroughput: number;
  outputTokenThroughput: number;
  ttft: Summary;
  itl: Summary;
  e2e: Summary;
  /** The workload's prefix reuse: reused blocks over prompt blocks. */
  prefixBlocks: number;
  reusedPrefixBlocks: number;
}

function body(w: WorkloadRequest, o: LoadOptions): string {
  const common = {
    model: o.model,
    max_tokens: w.maxTokens,
    stream: o.stream,
    ...(o.stream ? { stream_options: { include_usage: true } } : {}),
  };
  return JSON.stringify(
    o.api === 'chat' ? { ...common, messages: [{ role: 'user', content: w.content }] } : { ...common, prompt: `user: ${w.content}` },
  );
}

/** Sends one request and measures it. Never throws. */
export function sendOne(w: WorkloadRequest, o: LoadOptions, agent: Agent): Promise<RequestResult> {
  const path = o.api === 'chat' ? '/v1/chat/completions' : '/v1/completions';
  const start = performance.now();
  const result: RequestResult = {
    ok: false,
    status: 0,
    inputTokens: w.inputTokens,
    outputTokens: 0,
    ttftSeconds: undefined,
    itlSeconds: [],
    e2eSeconds: 0,
    cachedTokens: 0,
  };
  return new Promise((resolve) => {
    let settled = false;
    const finish = (error?: string): void => {
      if (settled) return;
      settled = true;
      result.e2eSeconds = (performance.now() - start) / 1000;
      if (error !== undefined) {
        result.ok = false;
        result.error = error;
      }
      resolve(result);
    };
    const req = httpRequest(
      new URL(path, o.url),
      { method: 'POST', agent, headers: { 'Content-Type': 'application/json' }, timeout: o.timeoutMs },
      (res) => {
        result.status = res.statusCode ?? 0;
        if (result.status !== 200) {
          res.resume();
          res.on('end', () => finish(`HTTP ${result.status}`));
          return;
        }
        if (o.stream) readStream(res, result, start, finish);
        else readWhole(res, result, start, finish);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => finish(errorMessage(err)));
    req.end(body(w, o));
  });
}

interface StreamChunk {
  choices?: { delta?: { content?: unknown }; text?: unknown }[];
  usage?: { completion_tokens?: unknown; prompt_tokens_details?: { cached_tokens?: unknown } } | null;
}

function readStream(res: IncomingMessage, result: RequestResult, start: number, finish: (error?: string) => void): void {
  let buffer = '';
  let last = 0;
  let textChunks = 0;
  let usageTokens: number | undefined;
  let done = false;
  res.setEncoding('utf8');
  res.on('data', (data: string) => {
    buffer += data;
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
      if (!event.startsWith('data: ')) continue;
      const payload = event.slice(6);
      if (payload === '[DONE]') {
        done = true;
        continue;
      }
      let c: StreamChunk & { error?: unknown };
      try {
        c = JSON.parse(payload) as StreamChunk & { error?: unknown };
      } catch {
        continue;
      }
      if (c.error !== undefined) {
        finish('error event in the stream');
        res.destroy();
        return;
      }
      const choice = c.choices?.[0];
      const text = choice?.delta?.content ?? choice?.text;
      if (typeof text === 'string' && text !== '') {
        const now = performance.now();
        if (textChunks === 0) result.ttftSeconds = (now - start) / 1000;
        else result.itlSeconds.push((now - last) / 1000);
        last = now;
        textChunks++;
      }
      if (c.usage !== undefined && c.usage !== null) {
        if (typeof c.usage.completion_tokens === 'number') usageTokens = c.usage.completion_tokens;
        const cached = c.usage.prompt_tokens_details?.cached_tokens;
        if (typeof cached === 'number') result.cachedTokens = cached;
      }
    }
  });
  res.on('end', () => {
    result.outputTokens = usageTokens ?? textChunks;
    result.ok = done;
    finish(done ? undefined : 'the stream ended without [DONE]');
  });
  res.on('error', (err) => finish(errorMessage(err)));
}

function readWhole(res: IncomingMessage, result: RequestResult, start: number, finish: (error?: string) => void): void {
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (d: string) => {
    text += d;
  });
  res.on('end', () => {
    try {
      const b = JSON.parse(text) as { usage?: { completion_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } } };
      result.outputTokens = b.usage?.completion_tokens ?? 0;
      result.cachedTokens = b.usage?.prompt_tokens_details?.cached_tokens ?? 0;
      // a whole response has no first token of its own: its end is its first token
      result.ttftSeconds = (performance.now() - start) / 1000;
      result.ok = true;
      finish();
    } catch (err) {
      finish(`bad response: ${errorMessage(err)}`);
    }
  });
  res.on('error', (err) => finish(errorMessage(err)));
}

/** Runs the workload (until it ends, or `durationMs`) and reports on the requests sent. */
export async function runLoad(
  workload: Iterable<WorkloadRequest>,
  o: LoadOptions,
): Promise<{ report: LoadReport; results: RequestResult[] }> {
  const agent = new Agent({ keepAlive: true, maxSockets: o.rate > 0 ? Number.POSITIVE_INFINITY : o.concurrency });
  const sent: WorkloadRequest[] = [];
  const results: RequestResult[] = [];
  const start = performance.now();
  const deadline = o.durationMs !== undefined && o.durationMs > 0 ? start + o.durationMs : Number.POSITIVE_INFINITY;
  const it = workload[Symbol.iterator]();
  /** The next request of the workload, or undefined when it (or the time) is over. */
  const next = (): { w: WorkloadRequest; i: number } | undefined => {
    if (performance.now() >= deadline) return undefined;
    const r = it.next();
    if (r.done === true) return undefined;
    sent.push(r.value);
    return { w: r.value, i: sent.length - 1 };
  };
  try {
    if (o.rate > 0) {
      const random = seededRandom(o.seed ^ 0x27d4eb2f);
      const pending: Promise<void>[] = [];
      let due = performance.now();
      for (;;) {
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, deadline - performance.now())));
        const n = next();
        if (n === undefined) break;
        pending.push(
          sendOne(n.w, o, agent).then((r) => {
            results[n.i] = r;
            o.onResult?.(r);
          }),
        );
        due += (-Math.log(1 - random()) / o.rate) * 1000;
      }
      await Promise.all(pending);
    } else {
      await Promise.all(
        Array.from({ length: o.concurrency }, async () => {
          for (let n = next(); n !== undefined; n = next()) {
            const r = await sendOne(n.w, o, agent);
            results[n.i] = r;
            o.onResult?.(r);
          }
        }),
      );
    }
  } finally {
    agent.destroy();
  }
  const seconds = (performance.now() - start) / 1000;
  return { report: report(sent, results, seconds), results };
}

export function report(workload: readonly WorkloadRequest[], results: readonly RequestResult[], seconds: number): LoadReport {
  const ok = results.filter((r) => r.ok);
  const failures: Record<string, number> = {};
  for (const r of results) if (!r.ok) failures[String(r.status)] = (failures[String(r.status)] ?? 0) + 1;
  const outputTokens = ok.reduce((s, r) => s + r.outputTokens, 0);
  return {
    requests: results.length,
    completed: ok.length,
    failed: results.length - ok.length,
    failures,
    durationSeconds: seconds,
    inputTokens: ok.reduce((s, r) => s + r.inputTokens, 0),
    outputTokens,
    cachedTokens: ok.reduce((s, r) => s + r.cachedTokens, 0),
    requestThroughput: ok.length / seconds,
    outputTokenThroughput: outputTokens / seconds,
    ttft: summarize(ok.flatMap((r) => (r.ttftSeconds === undefined ? [] : [r.ttftSeconds]))),
    itl: summarize(ok.flatMap((r) => r.itlSeconds)),
    e2e: summarize(ok.map((r) => r.e2eSeconds)),
    prefixBlocks: workload.reduce((s, w) => s + w.blocks, 0),
    reusedPrefixBlocks: workload.reduce((s, w) => s + w.reusedBlocks, 0),
  };
}

const ms = (s: number): string => (Number.isNaN(s) ? '-' : (s * 1000).toFixed(2));

/** The report as serving benchmarks print it. */
export function formatReport(r: LoadReport): string {
  const rows: [string, string][] = [
    ['Successful requests', String(r.completed)],
    [
      'Failed requests',
      `${r.failed}${
        r.failed > 0
          ? ` (${Object.entries(r.failures)
              .map(([s, n]) => `${s === '0' ? 'no response' : `HTTP ${s}`}: ${n}`)
              .join(', ')})`
          : ''
      }`,
    ],
    ['Benchmark duration (s)', r.durationSeconds.toFixed(2)],
    ['Total input tokens', String(r.inputTokens)],
    ['Total generated tokens', String(r.outputTokens)],
    ['Cached prompt tokens (server)', String(r.cachedTokens)],
    ['Prefix reuse in the workload (blocks)', `${r.reusedPrefixBlocks} / ${r.prefixBlocks}`],
    ['Request throughput (req/s)', r.requestThroughput.toFixed(2)],
    ['Output token throughput (tok/s)', r.outputTokenThroughput.toFixed(2)],
  ];
  const lat = (name: string, s: Summary): [string, string][] => [
    [`Mean ${name} (ms)`, ms(s.mean)],
    [`P50 ${name} (ms)`, ms(s.p50)],
    [`P90 ${name} (ms)`, ms(s.p90)],
    [`P99 ${name} (ms)`, ms(s.p99)],
  ];
  rows.push(...lat('TTFT', r.ttft), ...lat('ITL', r.itl), ...lat('E2E latency', r.e2e));
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  return `${'='.repeat(width + 12)}\n${rows.map(([k, v]) => `${`${k}:`.padEnd(width)}${v.padStart(12)}`).join('\n')}\n${'='.repeat(width + 12)}\n`;
}
