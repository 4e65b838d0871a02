/**
 * Hand-written `$SRV.STATS` replies shaped exactly as Dynamo's Rust workers send them (all seven
 * endpoint keys, ids as hex in subjects), for tests that play a real Dynamo worker.
 */
import type { NatsConnection } from '@nats-io/transport-node';

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
