/**
 * Hand-written `$SRV.STATS` replies shaped exactly as Dynamo's Rust workers send them (all seven
 * endpoint keys, ids as hex in subjects), for tests that play a real Dynamo worker.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { Etcd3 } from 'etcd3';

export const MOCK_SERVICE = 'dynamo_my_component';

export function dynamoSubject(id: bigint, service = MOCK_SERVICE, endpoint = 'my_endpoint'): string {
  return `${service}.${endpoint}-${id.toString(16)}`;
}

/** One endpoint entry; `dataJson` is spliced in as raw JSON text (big integers stay exact). */
export function dynamoEndpoint(subject: string, dataJson: string): string {
  return `{"name":"${subject.replaceAll('.', '-')}","subject":"${subject}","queue_group":"q","num_requests":0,"num_errors":0,"last_error":"","processing_time":0,"average_processing_time":0,"data":${dataJson}}`;
}

export function dynamoStatsReply(endpoints: string[], service = MOCK_SERVICE): string {
  return `{"type":"io.nats.micro.v1.stats_response","name":"${service}","id":"abc","version":"0.0.1","started":"2025-08-08T05:07:17.720Z","endpoints":[${endpoints.join(',')}]}`;
}

/**
 * Answers every `$SRV.STATS.{service}` with one reply of `endpoints` (id, raw data JSON), then
 * `extraReplies`; by default as the mock worker's component (`dynamo_my_component`, `my_endpoint`).
 */
export function dynamoShapedWorker(
  nc: NatsConnection,
  endpoints: { id: bigint; data: string }[],
  extraReplies: string[] = [],
  service = MOCK_SERVICE,
  endpoint = 'my_endpoint',
): void {
  nc.subscribe(`$SRV.STATS.${service}`, {
    callback: (_e, msg) => {
      msg.respond(
        dynamoStatsReply(
          endpoints.map(({ id, data }) => dynamoEndpoint(dynamoSubject(id, service, endpoint), data)),
          service,
        ),
      );
      for (const r of extraReplies) msg.respond(r);
    },
  });
}

/** Where and how a Rust-shaped worker registers (written from Dynamo's sources, docs/wire-protocol.md §3). */
export interface DynamoRegistration {
  ns?: string;
  component?: string;
  endpoint?: string;
  /**
   * `instances`: `instances/{ns}/{comp}/{ep}:{hex}` with the plain instance (lib/runtime until late
   * 2025); `v1`: `v1/instances/{ns}/{comp}/{ep}/{hex}` with the serde-tagged `DiscoveryInstance`
   * (`lib/runtime/src/discovery/kv_store.rs`, bucket `v1/instances`).
   */
  layout?: 'instances' | 'v1';
  /** The request plane: NATS (the default, with the subject the stats name) or Dynamo's `tcp`. */
  transport?: 'nats' | 'tcp';
}

/**
 * Registers `ids` in etcd as a Dynamo worker does, under a lease, so that the aggregator believes
 * their stats and events. Returns a function that revokes the lease (the keys go, as when a
 * worker dies).
 */
export async function registerDynamoInstances(
  etcdUrl: string,
  ids: bigint[],
  ns = 'dynamo',
  component = 'my_component',
  endpoint = 'my_endpoint',
  opts: DynamoRegistration = {},
): Promise<() => Promise<void>> {
  const etcd = new Etcd3({ hosts: etcdUrl });
  const lease = etcd.lease(60, { autoKeepAlive: true });
  for (const id of ids) {
    const subject = dynamoSubject(id, `${ns}_${component}`.toLowerCase(), endpoint);
    const transport = opts.transport === 'tcp' ? `{"tcp":"127.0.0.1:41234/${endpoint}-${id.toString(16)}"}` : `{"nats_tcp":"${subject}"}`;
    if (opts.layout === 'v1') {
      const value = `{"type":"Endpoint","namespace":"${ns}","component":"${component}","endpoint":"${endpoint}","instance_id":${id},"transport":${transport}}`;
      await lease.put(`v1/instances/${ns}/${component}/${endpoint}/${id.toString(16)}`).value(value);
    } else {
      const value = `{"component":"${component}","endpoint":"${endpoint}","namespace":"${ns}","instance_id":${id},"transport":${transport}}`;
      await lease.put(`instances/${ns}/${component}/${endpoint}:${id.toString(16)}`).value(value);
    }
  }
  return async () => {
    await lease.revoke().catch(() => undefined);
    etcd.close();
  };
}
