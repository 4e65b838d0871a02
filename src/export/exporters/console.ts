/** Console: the OTel console exporter at the OTLP interval, for a look by hand. */
import { ConsoleMetricExporter, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { CarryingExporter } from '../CarryingExporter.ts';
import type { ExporterDefinition } from './types.ts';

export const consoleExporter: ExporterDefinition = {
  name: 'console',
  create({ config, health, snapshots }) {
    const reader = new PeriodicExportingMetricReader({
      exporter: new CarryingExporter(new ConsoleMetricExporter(), 'console', health, 'stdout'),
      exportIntervalMillis: config.otlp.intervalMs,
      metricProducers: [snapshots],
      cardinalityLimits: { default: config.cardinalityLimit },
    });
    return { reader, describe: () => `stdout every ${config.otlp.intervalMs / 1000}s` };
  },
};
