/**
 * What every command shares: errors a user can cause end the process with one line and a
 * non-zero exit (never a stack trace), and SIGINT/SIGTERM run a graceful shutdown once.
 */
import { DynamoError, UsageError } from '../errors.ts';
import { errorMessage } from '../errors.ts';

export { UsageError };

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export function errorLine(command: string, err: unknown): string {
  const msg = errorMessage(err);
  return `${command}: error: ${msg.split('\n')[0]}`;
}

/** Runs `main`; a thrown error prints one line and exits non-zero. */
export function runCommand(command: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${errorLine(command, err)}\n`);
    if (!(err instanceof DynamoError) && process.env.DYN_LOG?.includes('debug')) {
      process.stderr.write(`${(err as Error).stack ?? ''}\n`);
    }
    process.exit(err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE);
  });
}

/**
 * Calls `shutdown` on the first SIGINT or SIGTERM, then exits 0 (1 if it failed); a second
 * signal exits at once.
 */
export function onShutdownSignal(command: string, shutdown: () => Promise<void>): void {
  let stopping = false;
  const handler = (): void => {
    if (stopping) process.exit(EXIT_FAILURE);
    stopping = true;
    shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`${errorLine(command, err)}\n`);
        process.exit(EXIT_FAILURE);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
