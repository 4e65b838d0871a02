/**
 * The event plane (docs/wire-protocol.md §5): compact JSON on core NATS, at most once.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { getLogger } from '../log.ts';
import { encodeJson, parseJson, type JsonValue } from './json.ts';
import { errorMessage } from '../errors.ts';

const log = getLogger('runtime::events');

/** One received event: its subject and body, decoded on demand. */
export class EventMessage {
  constructor(
    readonly subject: string,
    readonly bytes: Uint8Array,
  ) {}
  /** Parses the body as JSON (64-bit integers exact); throws `DecodeError`. */
  json<T = JsonValue>(): T {
    return parseJson(this.bytes) as T;
  }
}

export type EventHandler = (event: EventMessage) => void;

/** Publishes `value` as compact JSON on `subject`. */
export function publishEvent(nc: NatsConnection, subject: string, value: unknown): void {
  nc.publish(subject, encodeJson(value));
}

/** Calls `handler` for every event on `subject` (wildcards allowed); a throwing handler is logged, never fatal. */
export function subscribeEvents(nc: NatsConnection, subject: string, handler: EventHandler): Subscription {
  return nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err !== null) return;
      try {
        handler(new EventMessage(msg.subject, msg.data));
      } catch (e) {
        log.rateLimited('warn', `handler-${subject}`, 'event handler failed', { subject, error: errorMessage(e) });
      }
    },
  });
}
