/**
 * `loadgen`: sends chat completions (or completions) to an OpenAI-compatible server at a rate or a
 * concurrency, with prompt and output lengths drawn from normal distributions and a share of
 * prompts that reuse prefixes, and prints TTFT, ITL, end-to-end latency and throughput as serving
 * benchmarks do (p50/p90/p99), or JSON.
 */
import { errorMessage } from '../errors.ts';
import { parseCommand } from './args.ts';
import { LOADGEN_COMMAND } from './commands.ts';
import { runCommand } from './run.ts';

runCommand('loadgen', async () => {
  const { values: v } = parseCommand(LOADGEN_COMMAND);
  const [{ workload }, { formatReport, runLoad }] = await Promise.all([
    import('../loadgen/workload.ts'),
    import('../loadgen/LoadGenerator.ts'),
  ]);
  let model = v.model;
  if (model === '') {
    const res = await fetch(new URL('/v1/models', v.url)).catch((err: unknown) => {
      throw new Error(`cannot list the models at ${v.url}: ${errorMessage(err)}`);
    });
    const first = ((await res.json()) as { data?: { id?: string }[] }).data?.[0]?.id;
    if (first === undefined) throw new Error(`${v.url} serves no model yet`);
    model = first;
  }
  const requests = workload({
    requests: v.requests,
    inputTokens: v.isl,
    inputTokensStddev: v.isl_stddev,
    outputTokens: v.osl,
    outputTokensStddev: v.osl_stddev,
    prefixShare: v.prefix_share,
    prefixTokens: v.prefix_tokens,
    prefixes: v.prefixes,
    blockSize: v.block_size,
    seed: v.seed,
  });
  const { report } = await runLoad(requests, {
    url: v.url,
    model,
    api: v.api,
    stream: v.stream,
    concurrency: v.concurrency,
    rate: v.rate,
    timeoutMs: v.timeout,
    durationMs: v.duration,
    seed: v.seed,
  });
  process.stdout.write(v.json ? `${JSON.stringify({ model, ...report })}\n` : `model ${model}\n${formatReport(report)}`);
  if (report.completed === 0) process.exitCode = 1;
});
