/**
 * The project's base errors, shared by every folder. Each carries a one-line message fit for a
 * user; folders derive their own typed errors from `DynamoError`.
 */

/** Base class: every error this project raises on purpose. */
export class DynamoError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A mistake in how a command or an API was called (flags, config, names): one line and exit code 2. */
export class UsageError extends DynamoError {}

/** A config value or file that cannot be used: exit code 2 with one line. */
export class ConfigError extends UsageError {}

/** An operation did not finish in time. */
export class TimeoutError extends DynamoError {}

/** The message of anything thrown, on one line. */
export function errorMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : typeof err === 'string' ? err : String(err);
  const nl = msg.indexOf('\n');
  return nl === -1 ? msg : msg.slice(0, nl);
}
