/**
 * The event plane (docs/wire-protocol.md §5): compact JSON on core NATS, at most once.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { getLogger } from '../log.ts';
import { encodeJson, parseJson, type JsonValue } from './json.ts';
import { errorMessage } from '../errors.ts';

const log = getLogger('runtime::events');

/**
 * One received event: its subject and body, both decoded on demand (a handler that reads only the
 * bytes, as the aggregator's hit-rate counting does at 100,000s of events a second, decodes
 * nothing here).
 */
export class EventMessage {
  /** @param subject the subject, or the received message that decodes it when asked */
  constructor(
    private readonly from: string | Pick<Msg, 'subject'>,
    readonly bytes: Uint8Array,
  ) {}

  get subject(): string {
    return typeof this.from === 'string' ? this.from : this.from.subject;
  }

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
        handler(new EventMessage(msg, msg.data));
      } catch (e) {
        log.rateLimited('warn', `handler-${subject}`, 'event handler failed', { subject, error: errorMessage(e) });
      }
    },
  });
}
