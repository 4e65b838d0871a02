/**
 * `loadgen`: sends chat completions (or completions) to an OpenAI-compatible server at a rate or a
 * concurrency, with prompt and output lengths drawn from normal distributions and a share of
 * prompts that reuse prefixes, and prints TTFT, ITL, end-to-end latency and throughput as serving
 * benchmarks do (p50/p90/p99), or JSON.
 */
import { errorMessage } from '../errors.ts';
import { parseCommand } from './args.ts';
import { exportConfigFrom } from '../loadgen/options.ts';
import { LOADGEN_COMMAND } from './commands.ts';
import { runCommand } from './run.ts';

runCommand('loadgen', async () => {
  const v = parseCommand(LOADGEN_COMMAND).values;
  const exportConfig = exportConfigFrom(v);
  const [{ workload }, { formatReport, runLoad }, { GenAiClientMetrics }, { MetricsPipeline }] = await Promise.all([
    import('../loadgen/workload.ts'),
    import('../loadgen/LoadGenerator.ts'),
    import('../loadgen/GenAiClientMetrics.ts'),
    import('../export/MetricsPipeline.ts'),
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
  // the GenAI client instruments, exported only when exporters are configured
  const genAi = new GenAiClientMetrics(model, v.api === 'chat' ? 'chat' : 'text_completion', v.url);
  const pipeline = exportConfig.exporters.length > 0 ? new MetricsPipeline(exportConfig, { global: false }) : undefined;
  pipeline?.snapshots.add(() => genAi.snapshot());
  await pipeline?.start();
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
    onResult: (r) => genAi.record(r),
  });
  await pipeline?.shutdown(); // the final export carries every request
  process.stdout.write(v.json ? `${JSON.stringify({ model, ...report })}\n` : `model ${model}\n${formatReport(report)}`);
  if (report.completed === 0) process.exitCode = 1;
});
