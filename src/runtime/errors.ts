/**
 * Typed errors of the runtime. Each carries a one-line message fit for a user.
 */

import { DynamoError, TimeoutError, UsageError } from '../errors.ts';

export { DynamoError, TimeoutError, UsageError };

export class InvalidNameError extends DynamoError {
  constructor(
    readonly kind: string,
    readonly value: unknown,
  ) {
    super(`invalid ${kind} name ${JSON.stringify(value)}: use one or more of [a-zA-Z0-9_-]`);
  }
}

/** NATS could not be reached or refused us. */
export class NatsUnavailableError extends DynamoError {}

/** etcd could not be reached or refused us. */
export class EtcdUnavailableError extends DynamoError {}

/** etcd no longer has the lease (it expired or was revoked), or it could not be renewed for two TTLs. */
export class LeaseLostError extends DynamoError {}

/** The instance key is already held by another instance. */
export class RegistrationConflictError extends DynamoError {}

/** No instance of the endpoint is registered. */
export class NoInstancesError extends DynamoError {}

/** The chosen instance is gone (deregistered, or nobody listens on its subject). */
export class InstanceGoneError extends DynamoError {
  constructor(
    readonly instanceId: bigint,
    message: string,
  ) {
    super(message);
  }
}

/** NATS said nobody listens on the instance's subject (it is still listed, but not serving). */
export class NoRespondersError extends InstanceGoneError {}

/** A request got no answer (or no next chunk) in time. */
export class RequestTimeoutError extends TimeoutError {}

/** The worker's handler failed; `errorType` is one of the runtime's error classes. */
export class RemoteError extends DynamoError {
  constructor(
    message: string,
    readonly errorType: string,
  ) {
    super(message);
  }
}

/** The runtime was shut down while the operation was under way. */
export class ShutdownError extends DynamoError {}

/** The request was cancelled by its caller (its `AbortSignal`). */
export class CancelledError extends DynamoError {}

/** Bad JSON or a body of the wrong shape. */
export class DecodeError extends DynamoError {}
