#!/usr/bin/env node
// Runs the compiled command (npm run build writes dist/; npm ci and npm pack build it).
try {
  await import('../dist/src/cli/mock_worker.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('/dist/')) throw err;
  process.stderr.write('mock_worker: error: the package is not built; run: npm run build\n');
  process.exit(1);
}
