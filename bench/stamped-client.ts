/**
 * The client of bench/stamped-worker.ts: `STREAMS` concurrent streams of `OSL` tokens, through the
 * frontend at `URL` (OpenAI chat completions, server-sent events) and directly from the workers
 * through the runtime client, alternating (frontend, direct, direct, frontend). Each token's
 * latency is the time it arrived here less the time the worker stamped into its text; the first
 * SKIP tokens of each stream are left out (at least the first: it carries the request's own
 * start; more leaves out the burst of every stream starting at once). Prints one JSON line: the
 * latency summaries (seconds) of each path, the streams completed and when the frontend runs were.
 *
 *   node --import tsx bench/stamped-client.ts URL MODEL STREAMS OSL [SKIP]
 */
import { request as httpRequest } from 'node:http';
import { DistributedRuntime } from '../src/runtime/index.ts';
import { summarize } from '../src/loadgen/stats.ts';

const [url = '', model = 'bench-model', streamsArg = '1000', oslArg = '60', skipArg = '1'] = process.argv.slice(2);
/** Tokens at the start of each stream left out (at least the first, which carries the request's own start). */
const SKIP = Math.max(1, Number(skipArg));
const streams = Number(streamsArg);
const osl = Number(oslArg);
const STAMP = /"content":"([0-9.]+)"/;

function now(): number {
  return performance.timeOrigin + performance.now();
}

/** One stream through the frontend; pushes each token's latency (ms) but the first's. */
function viaFrontend(out: number[]): Promise<boolean> {
  const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream: true, max_tokens: osl });
  return new Promise((resolve) => {
    const req = httpRequest(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
      let rest = '';
      let n = 0;
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        const t = now();
        const events = (rest + text).split('\n\n');
        rest = events.pop() ?? '';
        for (const e of events) {
          const m = STAMP.exec(e);
          if (m?.[1] === undefined) continue;
          if (n++ >= SKIP) out.push(t - Number(m[1]));
        }
      });
      res.on('end', () => resolve(res.statusCode === 200 && n === osl));
      res.on('error', () => resolve(false));
    });
    req.on('error', () => resolve(false));
    req.end(body);
  });
}

const drt = await DistributedRuntime.connect();
const client = await drt.namespace('dynamo').component('backend').endpoint('generate').client();
await client.waitForInstances(1);

/** One stream read directly from a worker; pushes each token's latency (ms) but the first's. */
async function direct(out: number[]): Promise<boolean> {
  let n = 0;
  for await (const chunk of client.roundRobin({ token_ids: [1, 2, 3], stop_conditions: { max_tokens: osl } })) {
    const t = now();
    const { text } = chunk.json<{ text: string }>();
    if (n++ >= SKIP) out.push(t - Number(text));
  }
  return n === osl;
}

const lat = { frontend: [] as number[], direct: [] as number[] };
const completed = { frontend: 0, direct: 0 };
/** When the frontend runs began and ended (wall-clock ms), for the CPU the frontend spent in them. */
const windows: [number, number][] = [];
for (const path of ['frontend', 'direct', 'direct', 'frontend'] as const) {
  const run = path === 'frontend' ? viaFrontend : direct;
  const began = now();
  const ok = await Promise.all(Array.from({ length: streams }, () => run(lat[path])));
  if (path === 'frontend') windows.push([began, now()]);
  completed[path] += ok.filter(Boolean).length;
}
const seconds = (ms: number[]) => summarize(ms.map((x) => x / 1000));
process.stdout.write(
  `${JSON.stringify({ frontend: seconds(lat.frontend), direct: seconds(lat.direct), completed, streams: streams * 2, windows })}\n`,
);
await drt.shutdown();
