/**
 * `frontend`: an OpenAI-compatible HTTP server (`--http-port 8000`) in front of the workers of a
 * namespace that serve models (`mock_worker --model`), measuring every request as Dynamo's
 * frontend does (`dynamo_frontend_*`) and exporting through the same exporters as the other
 * commands; `/metrics` on the same port.
 */
import { frontendConfigFrom } from '../frontend/options.ts';
import { getLogger } from '../log.ts';
import { parseCommand } from './args.ts';
import { FRONTEND_COMMAND } from './commands.ts';
import { onShutdownSignal, runCommand } from './run.ts';

const log = getLogger('frontend');

runCommand('frontend', async () => {
  const cfg = frontendConfigFrom(parseCommand(FRONTEND_COMMAND));
  const [{ startFrontend }] = await Promise.all([import('../frontend/startFrontend.ts')]);
  const running = await startFrontend(cfg);
  log.info(`OpenAI API at ${running.frontend.url}/v1 (models from namespace ${cfg.namespace}); metrics at ${running.frontend.url}/metrics`);
  onShutdownSignal('frontend', () => running.stop());
});
