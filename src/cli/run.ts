/**
 * What every command shares: errors a user can cause end the process with one line and a
 * non-zero exit (never a stack trace, never a credential); SIGINT, SIGTERM, SIGHUP and SIGUSR2
 * run the same graceful shutdown once; SIGUSR1 does not open the Node inspector; a reader of
 * stdout or stderr that goes away (EPIPE) never stops the process.
 */
import { DynamoError, errorMessage, UsageError } from '../errors.ts';
import { configureLogging, logFilterProblem } from '../log.ts';
import { redactText } from '../redact.ts';

export { UsageError };

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** Signals that stop a command cleanly (SIGHUP: the terminal went away; SIGUSR2: what some supervisors send). */
export const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR2'];

/** `command: error: <first line>`, with every URL's credentials redacted. */
export function errorLine(command: string, err: unknown): string {
  return `${command}: error: ${redactText(errorMessage(err))}`;
}

let guarded = false;
/**
 * A closed stdout or stderr (`metrics 2>&1 | head`) must not end the process: write errors are
 * swallowed (the log goes nowhere, the service goes on). SIGUSR1 would open the inspector on
 * 127.0.0.1:9229 for anyone on the host; a listener of our own keeps it closed.
 */
export function guardProcess(command: string): void {
  if (guarded) return;
  guarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
      throw err;
    });
  }
  configureLogging({ sink: { write: (line) => void (process.stderr.writable && process.stderr.write(line)) } });
  process.on(
    'SIGUSR1',
    () => process.stderr.writable && process.stderr.write(`${command}: SIGUSR1 ignored (the inspector stays closed)\n`),
  );
}

/** Runs `main`; a thrown error prints one line and exits non-zero. */
export function runCommand(command: string, main: () => Promise<void>): void {
  guardProcess(command);
  const logProblem = logFilterProblem(process.env.DYN_LOG);
  if (logProblem !== undefined) {
    process.stderr.write(`${command}: error: ${logProblem}\n`);
    process.exit(EXIT_USAGE);
  }
  main().catch((err: unknown) => {
    process.stderr.write(`${errorLine(command, err)}\n`);
    if (!(err instanceof DynamoError) && process.env.DYN_LOG?.includes('debug')) {
      process.stderr.write(`${redactText((err as Error).stack ?? '')}\n`);
    }
    process.exit(err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE);
  });
}

/**
 * Calls `shutdown` on the first of `SHUTDOWN_SIGNALS`, then exits 0 (1 if it failed); a second
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
  for (const s of SHUTDOWN_SIGNALS) process.on(s, handler);
}
