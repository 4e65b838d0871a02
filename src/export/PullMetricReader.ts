/**
 * A reader that collects only when asked (a Prometheus scrape), bounded by a timeout.
 */
import { MetricReader, type MetricReaderOptions, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { DynamoError, errorMessage } from '../errors.ts';
import { withTimeout } from '../time.ts';

/** A scrape's collection failed or took too long: the scrape answers 503. */
export class CollectionError extends DynamoError {}

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
    const { resourceMetrics, errors } = await withTimeout(
      this.collect({ timeoutMillis: timeoutMs }),
      timeoutMs,
      () => new CollectionError(`collection took longer than ${timeoutMs} ms`),
    );
    if (errors.length > 0) {
      throw new CollectionError(
        `collection failed: ${errorMessage(errors[0])}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`,
      );
    }
    return resourceMetrics;
  }
}
