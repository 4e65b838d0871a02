/** The runtime's public surface: what docs/runtime-api.md documents (api/runtime.api.md lists it whole). */
export { DistributedRuntime, NOOP_INSTRUMENTATION } from './DistributedRuntime.ts';
export type { Namespace, Component, Endpoint, ServedEndpoint } from './DistributedRuntime.ts';
export type { DistributedRuntimeOptions, EventSubscription } from './DistributedRuntime.ts';
export { DEFAULT_SHUTDOWN_TIMEOUT_MS } from './DistributedRuntime.ts';
export { Client } from './Client.ts';
export type { RequestOptions } from './Client.ts';
export type { ResponseStream } from './ResponseRouter.ts';
export type { ResponseChunk } from './codec.ts';
export type { Handler, RequestContext, ServeOptions } from './EndpointServer.ts';
export type { EventMessage } from './events.ts';
export type { Instance } from './InstanceDiscovery.ts';
export { MicroService } from './MicroService.ts';
export type { StatsHandler } from './MicroService.ts';
export { validateName, aggregateSubject, KV_HIT_RATE_EVENT } from './names.ts';
export { subscribeLarge, MessageAssembler } from './largeMessages.ts';
export type { LargeForm, AssemblyDropReason, AssemblerOptions, HeaderGetter } from './largeMessages.ts';
export type { NameKind } from './names.ts';
export {
  DynamoError,
  TimeoutError,
  UsageError,
  InvalidNameError,
  NatsUnavailableError,
  EtcdUnavailableError,
  RegistrationConflictError,
  NoInstancesError,
  InstanceGoneError,
  NoRespondersError,
  RequestTimeoutError,
  RemoteError,
  ShutdownError,
  CancelledError,
  DecodeError,
} from './errors.ts';
export { parseJson, stringifyJson } from './json.ts';
export type { JsonValue } from './json.ts';

export type {
  EndpointErrorType,
  EndpointIdentity,
  EndpointObserver,
  EndpointObserverFactory,
  ModelRequestOutcome,
  EndpointStatsSource,
  ObservedRuntime,
  RuntimeInstrumentation,
} from './observer.ts';

export type { ForwardPassMetrics } from './forwardPassMetrics.ts';

export type {
  MetricsFactory,
  MetricsScope,
  MetricOptions,
  HistogramMetricOptions,
  MetricLabels,
  CounterMetric,
  GaugeMetric,
  HistogramMetric,
  ObservedGauge,
  ObserveCallback,
} from './metricsFactory.ts';
export { closeEtcdClient, createEtcdClient } from './connections.ts';
export type { NatsOptions, EtcdOptions } from './connections.ts';
