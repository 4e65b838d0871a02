/** What one exporter is to the pipeline: a name and how to build its reader from the config. */
import type { MetricReader, MetricReaderOptions } from '@opentelemetry/sdk-metrics';
import type { ExportHealth } from '../ExportHealth.ts';
import type { MetricsHttpServer, RouteHandler } from '../MetricsHttpServer.ts';
import type { ExportConfig, ExporterName } from '../options.ts';
import type { SnapshotProducer } from '../SnapshotProducer.ts';

export interface ExporterContext {
  config: ExportConfig;
  health: ExportHealth;
  snapshots: SnapshotProducer;
  /** Reader options shared by readers that follow the SDK's default temporality. */
  readerOptions: MetricReaderOptions;
  /** Extra routes on the Prometheus server (the status server's /health, /live). */
  routes?: Record<string, RouteHandler> | undefined;
}

export interface ExporterInstance {
  reader: MetricReader;
  /** Where it sends or serves, for the start-up log line (once started). */
  describe(): string;
  /** The pull server, for an exporter that serves one. */
  server?: MetricsHttpServer;
}

export interface ExporterDefinition {
  readonly name: ExporterName;
  create(ctx: ExporterContext): ExporterInstance;
}
