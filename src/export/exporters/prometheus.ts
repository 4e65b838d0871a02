/** Prometheus pull: a reader collected on each scrape, served by our HTTP server. */
import { MetricsHttpServer } from '../MetricsHttpServer.ts';
import { PullMetricReader } from '../PullMetricReader.ts';
import { loadWebConfig } from '../webConfig.ts';
import type { ExporterDefinition } from './types.ts';

export const prometheusExporter: ExporterDefinition = {
  name: 'prometheus',
  create({ config, health, readerOptions, routes }) {
    const reader = new PullMetricReader(readerOptions);
    const { host, port, collectTimeoutMs, scopeLabels, targetInfo, webConfigFile, limits } = config.prometheus;
    const webConfig = webConfigFile !== undefined ? loadWebConfig(webConfigFile) : undefined;
    const server = new MetricsHttpServer(reader, {
      host,
      port,
      collectTimeoutMs,
      scopeLabels,
      targetInfo,
      routes,
      health,
      webConfig,
      limits,
    });
    return { reader, server, describe: () => server.displayUrl };
  },
};
