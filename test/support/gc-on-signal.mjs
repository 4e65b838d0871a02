// Preloaded into a child process by a test (NODE_OPTIONS="--import <this file>"): SIGWINCH runs a
// full garbage collection, so that the test reads the memory the process holds, not garbage the
// collector has not reached yet. Plain JavaScript: it loads before tsx.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
process.on('SIGWINCH', () => gc());
