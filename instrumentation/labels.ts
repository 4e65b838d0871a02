/**
 * The `dynamo_*` labels of a level of the hierarchy, with Dynamo's value sanitising
 * (`my-ns` → `my_ns`, docs/metrics.md §1).
 */
import type { Attributes } from '@opentelemetry/api';
import { sanitizeLabelValue } from '../src/runtime/names.ts';
import type { MetricsScope } from '../src/runtime/metricsFactory.ts';

export function scopeAttributes(scope: MetricsScope): Attributes {
  const out: Attributes = { dynamo_namespace: sanitizeLabelValue(scope.namespace) };
  if (scope.component !== undefined) out.dynamo_component = sanitizeLabelValue(scope.component);
  if (scope.endpoint !== undefined) out.dynamo_endpoint = sanitizeLabelValue(scope.endpoint);
  return out;
}
