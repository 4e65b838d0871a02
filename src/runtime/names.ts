/**
 * Names, subjects and keys of the Dynamo wire contract (docs/wire-protocol.md §1–3). Pure functions.
 */
import { InvalidNameError } from './errors.ts';

const NAME_RE = /^[a-zA-Z0-9_-]+$/;

/** The namespace Dynamo's components use unless told otherwise (`DYN_NAMESPACE`). */
export const DEFAULT_NAMESPACE = 'dynamo';
/** The namespace event carrying KV hit-rate numbers (docs/wire-protocol.md §5). */
export const KV_HIT_RATE_EVENT = 'kv-hit-rate';

export type NameKind = 'namespace' | 'component' | 'endpoint';

/** Throws `InvalidNameError` unless `name` is non-empty and uses only `[a-zA-Z0-9_-]`. */
export function validateName(kind: NameKind, name: string): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new InvalidNameError(kind, name);
  }
  return name;
}

/** Dynamo's slug: lowercase, chars outside `[a-z0-9_-]` become `_`, leading `_` stripped. */
export function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '_')
    .replace(/^_+/, '');
}

/** The NATS micro service name of a component: `slug(ns + "_" + comp)`. */
export function serviceName(namespace: string, component: string): string {
  return slug(`${namespace}_${component}`);
}

/** Lowercase hex, no `0x`, no padding. */
export function idToHex(id: bigint): string {
  return id.toString(16);
}

const HEX_RE = /^[0-9a-f]{1,16}$/;
const DEC_RE = /^[0-9]{1,20}$/;
const MAX_U64 = (1n << 64n) - 1n;

/** Parses a worker id written in hex; undefined unless it is 1–16 lowercase hex digits. */
export function idFromHex(hex: string): bigint | undefined {
  if (!HEX_RE.test(hex)) return undefined;
  return BigInt(`0x${hex}`);
}

/** Parses a decimal worker id; undefined unless it is a decimal integer that fits 64 bits. */
export function idFromDecimal(dec: string): bigint | undefined {
  if (!DEC_RE.test(dec)) return undefined;
  const v = BigInt(dec);
  return v <= MAX_U64 ? v : undefined;
}

/** The subject requests are sent to: `{service}.{endpoint}-{idHex}`. */
export function endpointSubject(namespace: string, component: string, endpoint: string, id: bigint): string {
  return `${serviceName(namespace, component)}.${endpoint}-${idToHex(id)}`;
}

/** The micro endpoint name: the subject with `.` replaced by `-`. */
export function microEndpointName(subject: string): string {
  return subject.replaceAll('.', '-');
}

/** etcd prefix listing a component's instances (trailing slash kept). */
export function instancesPrefix(namespace: string, component: string): string {
  return `instances/${namespace}/${component}/`;
}

/** etcd key of one endpoint instance: `instances/{ns}/{comp}/{ep}:{idHex}`. */
export function instanceKey(namespace: string, component: string, endpoint: string, id: bigint): string {
  return `${instancesPrefix(namespace, component)}${endpoint}:${idToHex(id)}`;
}

/**
 * Where endpoint instances are registered in etcd: `instances` (`instances/{ns}/{comp}/{ep}:{hex}`,
 * Dynamo until late 2025) or `v1` (`v1/instances/{ns}/{comp}/{ep}/{hex}`, its discovery
 * key-value store since; docs/wire-protocol.md §3).
 */
export type DiscoveryLayout = 'instances' | 'v1';
export const DISCOVERY_LAYOUTS: readonly DiscoveryLayout[] = ['instances', 'v1'];
/** The bucket of the `v1` layout. */
export const V1_INSTANCES_BUCKET = 'v1/instances';

/** etcd prefix listing a component's instances in the `v1` layout (trailing slash kept). */
export function v1InstancesPrefix(namespace: string, component: string): string {
  return `${V1_INSTANCES_BUCKET}/${namespace}/${component}/`;
}

/** etcd key of one endpoint instance in the `v1` layout: `v1/instances/{ns}/{comp}/{ep}/{idHex}`. */
export function v1InstanceKey(namespace: string, component: string, endpoint: string, id: bigint): string {
  return `${v1InstancesPrefix(namespace, component)}${endpoint}/${idToHex(id)}`;
}

/** The aggregator's singleton key for a target. */
export function leaderKey(namespace: string, component: string, endpoint: string): string {
  return `metrics/${namespace}/${component}/${endpoint}/leader`;
}

/**
 * Where the `metrics` replicas of a namespace say they are, each under its lease
 * (`metrics/{ns}/replicas/{hex id}`): their number is what spreads targets among them.
 */
export function metricsReplicasPrefix(namespace: string): string {
  return `metrics/${namespace}/replicas/`;
}

/** Namespace event subject: `namespace.{ns}.{name}`. */
export function namespaceEventSubject(namespace: string, name: string): string {
  return `namespace.${namespace}.${name}`;
}

/** Where the aggregator publishes `ProcessedEndpoints` for a target: `namespace.{ns}.l2c.{comp}.{ep}`. */
export function aggregateSubject(namespace: string, component: string, endpoint: string): string {
  return namespaceEventSubject(namespace, `l2c.${component}.${endpoint}`);
}

/** Component event subject: `namespace.{ns}.component.{comp}.{name}`. */
export function componentEventSubject(namespace: string, component: string, name: string): string {
  return `namespace.${namespace}.component.${component}.${name}`;
}

/** Endpoint event subject: `namespace.{ns}.component.{comp}.endpoint.{ep}.{name}` (Dynamo's endpoint-scoped events). */
export function endpointEventSubject(namespace: string, component: string, endpoint: string, name: string): string {
  return `namespace.${namespace}.component.${component}.endpoint.${endpoint}.${name}`;
}

/** The topic workers publish their load on (LoadEvent, then ActiveLoad; Dynamo's `KV_METRICS_SUBJECT`). */
export const KV_METRICS_TOPIC = 'kv_metrics';

/** Prometheus label value as Dynamo writes it: every char outside `[a-zA-Z0-9_]` becomes `_`. */
export function sanitizeLabelValue(s: string): string {
  return s.replace(/[^a-zA-Z0-9_]/g, '_');
}
