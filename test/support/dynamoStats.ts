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

/** Answers every `$SRV.STATS.{service}` with one reply of `endpoints` (id, raw data JSON), then `extraReplies`. */
export function dynamoShapedWorker(nc: NatsConnection, endpoints: { id: bigint; data: string }[], extraReplies: string[] = []): void {
  nc.subscribe(`$SRV.STATS.${MOCK_SERVICE}`, {
    callback: (_e, msg) => {
      msg.respond(dynamoStatsReply(endpoints.map(({ id, data }) => dynamoEndpoint(dynamoSubject(id), data))));
      for (const r of extraReplies) msg.respond(r);
    },
  });
}

/**
 * Registers `ids` in etcd as a Dynamo worker does (instances/{ns}/{comp}/{ep}:{hex} with the
 * subject as its transport, under a lease), so that the aggregator believes their stats.
 * Returns a function that revokes the lease (the keys go, as when a worker dies).
 */
export async function registerDynamoInstances(etcdUrl: string, ids: bigint[], ns = 'dynamo', component = 'my_component', endpoint = 'my_endpoint'): Promise<() => Promise<void>> {
  const etcd = new Etcd3({ hosts: etcdUrl });
  const lease = etcd.lease(60, { autoKeepAlive: true });
  for (const id of ids) {
    const subject = dynamoSubject(id, `${ns}_${component}`.toLowerCase(), endpoint);
    const value = `{"component":"${component}","endpoint":"${endpoint}","namespace":"${ns}","instance_id":${id},"transport":{"nats_tcp":"${subject}"}}`;
    await lease.put(`instances/${ns}/${component}/${endpoint}:${id.toString(16)}`).value(value);
  }
  return async () => {
    await lease.revoke().catch(() => undefined);
    etcd.close();
  };
}
