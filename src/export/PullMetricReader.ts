/**
 * A reader that collects only when asked (a Prometheus scrape), bounded by a timeout.
 */
import { MetricReader, type MetricReaderOptions, type ResourceMetrics } from '@opentelemetry/sdk-metrics';

export class CollectionError extends Error {}

export class PullMetricReader extends MetricReader {
  constructor(options: MetricReaderOptions = {}) {
    super(options);
  }

  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}

  /**
   * Collects everything, or throws `CollectionError` if any part failed or the whole took longer
   * than `timeoutMs`: partial data is never presented as a complete scrape.
   */
  async collectAll(timeoutMs: number): Promise<ResourceMetrics> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CollectionError(`collection took longer than ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const { resourceMetrics, errors } = await Promise.race([this.collect({ timeoutMillis: timeoutMs }), timeout]);
      if (errors.length > 0) {
        const first = errors[0];
        throw new CollectionError(`collection failed: ${first instanceof Error ? first.message : String(first)}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`);
      }
      return resourceMetrics;
    } finally {
      clearTimeout(timer);
    }
  }
}
