/** The runtime's public surface. */
export { DistributedRuntime, Namespace, Component, Endpoint, ServedEndpoint, NOOP_INSTRUMENTATION } from './DistributedRuntime.ts';
export type { DistributedRuntimeOptions, EventSubscription } from './DistributedRuntime.ts';
export { DEFAULT_SHUTDOWN_TIMEOUT_MS } from './DistributedRuntime.ts';
export { Client } from './Client.ts';
export type { RequestOptions } from './Client.ts';
export { ResponseStream, DEFAULT_REQUEST_TIMEOUT_MS } from './ResponseRouter.ts';
export { ResponseChunk } from './codec.ts';
export type { Handler, RequestContext, ServeOptions } from './EndpointServer.ts';
export { EventMessage } from './events.ts';
export type { Instance } from './InstanceDiscovery.ts';
export { parseInstance } from './InstanceDiscovery.ts';
export { MicroService, QUEUE_GROUP, MICRO_VERSION } from './MicroService.ts';
export type { StatsHandler } from './MicroService.ts';
export {
  DEFAULT_NAMESPACE,
  KV_HIT_RATE_EVENT,
  validateName,
  slug,
  serviceName,
  idToHex,
  idFromHex,
  idFromDecimal,
  endpointSubject,
  microEndpointName,
  instancesPrefix,
  instanceKey,
  leaderKey,
  namespaceEventSubject,
  componentEventSubject,
  aggregateSubject,
  sanitizeLabelValue,
} from './names.ts';
export {
  publishLarge,
  subscribeLarge,
  splitLarge,
  MessageAssembler,
  HEADER_ENCODING,
  HEADER_MESSAGE_ID,
  HEADER_PART,
  HEADER_PARTS,
  DEFAULT_ASSEMBLY_TIMEOUT_MS,
} from './largeMessages.ts';
export type { LargeForm, LargeSend, AssemblyDropReason, AssemblerOptions, HeaderGetter } from './largeMessages.ts';
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
export { parseJson, stringifyJson, encodeJson } from './json.ts';
export type { JsonValue } from './json.ts';
export { ENDPOINT_ERROR_TYPES, NOOP_OBSERVER } from './observer.ts';
export type {
  EndpointErrorType,
  EndpointIdentity,
  EndpointObserver,
  EndpointObserverFactory,
  EndpointStatsSource,
  ObservedRuntime,
  RuntimeInstrumentation,
} from './observer.ts';
export { decodeForwardPassMetrics } from './forwardPassMetrics.ts';
export type { ForwardPassMetrics, FpmRejectReason, FpmResult } from './forwardPassMetrics.ts';
export { NOOP_METRICS_FACTORY } from './metricsFactory.ts';
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
export {
  DEFAULT_NATS_SERVER,
  DEFAULT_ETCD_ENDPOINTS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  natsOptionsFromEnv,
  etcdOptionsFromEnv,
  connectNats,
  closeEtcdClient,
  createEtcdClient,
} from './connections.ts';
export type { NatsOptions, EtcdOptions } from './connections.ts';
export { DEFAULT_LEASE_TTL_SECONDS } from './PrimaryLease.ts';
