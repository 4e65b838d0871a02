/**
 * Every exporter the pipeline can run, by name. A new exporter is one file beside these, its name
 * in `EXPORTER_NAMES` and its options in `options.ts`; the record type makes a missing entry a
 * compile error.
 */
import type { ExporterName } from '../options.ts';
import { consoleExporter } from './console.ts';
import { otlpExporter } from './otlp.ts';
import { prometheusExporter } from './prometheus.ts';
import { pushGatewayExporter } from './pushgateway.ts';
import type { ExporterDefinition } from './types.ts';

export const EXPORTERS: Readonly<Record<ExporterName, ExporterDefinition>> = {
  prometheus: prometheusExporter,
  otlp: otlpExporter,
  pushgateway: pushGatewayExporter,
  console: consoleExporter,
};

export type { ExporterContext, ExporterDefinition, ExporterInstance } from './types.ts';
