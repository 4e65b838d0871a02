/**
 * A MetricProducer that every reader of the pipeline consults at each collection. Sources hand
 * it the current snapshot of their metrics as ready-made metric data, so nothing is kept in the
 * SDK between collections: a series that is absent from the snapshot is gone from every
 * exporter at the next collection, and memory follows the live set. (The SDK's observable
 * gauges keep every attribute set they ever saw under cumulative temporality.)
 */
import type { CollectionResult, MetricCollectOptions, MetricProducer, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { emptyResource } from '@opentelemetry/resources';

/**
 * Returns the source's metrics as they are now (a large source may build them asynchronously,
 * yielding to the event loop). Called once per collection per reader; a throw or rejection
 * makes that collection fail.
 */
export type SnapshotSource = () => ScopeMetrics | Promise<ScopeMetrics>;

export class SnapshotProducer implements MetricProducer {
  private readonly sources = new Set<SnapshotSource>();

  /** Adds a source; returns a function that removes it. */
  add(source: SnapshotSource): () => void {
    this.sources.add(source);
    return () => this.sources.delete(source);
  }

  async collect(_options?: MetricCollectOptions): Promise<CollectionResult> {
    const scopeMetrics: ScopeMetrics[] = [];
    const errors: unknown[] = [];
    for (const source of this.sources) {
      try {
        scopeMetrics.push(await source());
      } catch (err) {
        errors.push(err);
      }
    }
    return { resourceMetrics: { resource: emptyResource(), scopeMetrics }, errors };
  }
}
