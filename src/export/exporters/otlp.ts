/** OTLP push: the OTel exporter on a periodic reader, counted and logged by `CarryingExporter`. */
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { CarryingExporter } from '../CarryingExporter.ts';
import { createOtlpExporter } from '../otlp.ts';
import type { ExporterDefinition } from './types.ts';

export const otlpExporter: ExporterDefinition = {
  name: 'otlp',
  create({ config, health, snapshots }) {
    const otlp = config.otlp;
    const exporter = new CarryingExporter(createOtlpExporter(otlp), 'otlp', health, otlp.endpoint);
    const reader = new PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: otlp.intervalMs,
      exportTimeoutMillis: Math.min(otlp.timeoutMs, otlp.intervalMs),
      // snapshot sums and histograms follow the exporter's temporality too
      metricProducers: [
        snapshots.forReader(
          (t) => exporter.selectAggregationTemporality(t),
          otlp.histogramAggregation === 'base2_exponential_bucket_histogram',
        ),
      ],
      cardinalityLimits: { default: config.cardinalityLimit },
    });
    return { reader, describe: () => `${otlp.endpoint} (${otlp.protocol}) every ${otlp.intervalMs / 1000}s` };
  },
};
