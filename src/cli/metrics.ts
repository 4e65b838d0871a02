/**
 * `metrics`: point it at one or more `namespace/component/endpoint` targets (or every endpoint of a
 * namespace); it finds the workers, scrapes their
 * stats, listens for KV hit-rate events, computes load average and deviation, exports it all
 * (Prometheus pull, OTLP, PushGateway, any combination) and publishes the aggregate on NATS.
 */
import { metricsConfigFrom } from '../aggregator/options.ts';
import { getLogger } from '../log.ts';
import { parseCommand } from './args.ts';
import { packageVersion } from '../export/staticAssets.ts';
import { METRICS_COMMAND } from './commands.ts';
import { onShutdownSignal, runCommand } from './run.ts';

const log = getLogger('metrics');

runCommand('metrics', async () => {
  const cfg = metricsConfigFrom(parseCommand(METRICS_COMMAND));
  // Loaded once the flags are good, so that --help, --version and a bad flag answer at once.
  const [{ AggregatorSet }, { AggregatorStatus, attachStatusPage }, { MetricsPipeline }, { DistributedRuntime }] = await Promise.all([
    import('../aggregator/AggregatorSet.ts'),
    import('../aggregator/statusPage.ts'),
    import('../export/MetricsPipeline.ts'),
    import('../runtime/DistributedRuntime.ts'),
  ]);
  // Exporters first: a busy port fails before anything registers.
  const pipeline = new MetricsPipeline(cfg.export);
  await pipeline.start();
  const server = pipeline.prometheusServer;
  if (server !== undefined) {
    log.info(`Status page at ${server.baseUrl}/`);
    log.info(`Prometheus metrics server started at ${server.displayUrl}`);
  }
  for (const [name, e] of pipeline.exporters) if (name !== 'prometheus') log.info(`Exporting to ${name}: ${e.describe()}`);
  const drt = await DistributedRuntime.connect(cfg.connection).catch(async (err: unknown) => {
    await pipeline.shutdown();
    throw err;
  });
  const aggregators = new AggregatorSet(drt, {
    namespace: cfg.namespace,
    targets: cfg.targets,
    allEndpoints: cfg.allEndpoints,
    pollIntervalMs: cfg.pollIntervalMs,
    maxTrackedWorkers: cfg.maxTrackedWorkers,
    maxMissedCycles: cfg.maxMissedCycles,
    trustNats: cfg.trustNats,
  });
  if (cfg.trustNats) {
    log.warn(
      '--discovery-backend kubernetes: workers are believed on their NATS answers and events alone, without etcd vouching for them; any client that may publish on NATS can make one up (restrict it with NATS permissions, deploy/nats)',
    );
  }
  aggregators.attach(pipeline);
  if (server !== undefined) attachStatusPage(server, new AggregatorStatus(aggregators, pipeline.health, packageVersion()));
  onShutdownSignal('metrics', async () => {
    log.info('shutting down');
    await aggregators.quiesce(); // no more cycles; the last views stay for the final export
    await pipeline.shutdown(); // final OTLP export (with the last views), PushGateway DELETE
    await aggregators.stop(); // release the leader keys: only now may a standby lead
    await drt.shutdown();
  });
  await aggregators.start();
});
