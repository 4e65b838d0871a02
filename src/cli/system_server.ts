/**
 * `system_server`: an example component with automatic endpoint metrics and the custom metric
 * `dynamo_component_bytes_processed_total`, and a client mode that sends it requests.
 *
 *   DYN_SYSTEM_ENABLED=true DYN_SYSTEM_PORT=8081 system_server
 *   system_server --client --requests 10
 *   curl localhost:8081/metrics | grep dynamo_component
 */
import { getLogger } from '../log.ts';
import { parseCommand } from './args.ts';
import { connectionSettings } from '../config/commonOptions.ts';
import { SYSTEM_SERVER_COMMAND } from './commands.ts';
import { onShutdownSignal, runCommand } from './run.ts';

/** How long the client waits for an instance of the example endpoint. */
export const CLIENT_WAIT_MS = 10_000;

const log = getLogger('system_server');

runCommand('system_server', async () => {
  const { values: v } = parseCommand(SYSTEM_SERVER_COMMAND);
  // Loaded once the flags are good, so that --help, --version and a bad flag answer at once.
  const [{ connectInstrumented }, { DistributedRuntime }] = await Promise.all([
    import('../../instrumentation/index.ts'),
    import('../runtime/index.ts'),
  ]);
  const connection = connectionSettings(v);
  // the client measures nothing; the served example has automatic metrics and the status server
  const drt = v.client ? await DistributedRuntime.connect(connection) : await connectInstrumented(connection);
  onShutdownSignal('system_server', () => drt.shutdown());
  const endpoint = drt.namespace(v.namespace).component(v.component).endpoint(v.endpoint);

  if (v.client) {
    const client = await endpoint.client();
    await client.waitForInstances(1, CLIENT_WAIT_MS);
    const n = v.requests;
    let chunks = 0;
    for (let i = 0; i < n; i++) {
      for await (const c of client.roundRobin({ text: `request ${i} from the example client` })) {
        chunks++;
        log.debug('chunk', { text: c.text() });
      }
    }
    log.info(`sent ${n} requests, received ${chunks} chunks`);
    await drt.shutdown();
    return;
  }

  const bytesProcessed = endpoint.metrics.counter('bytes_processed_total', {
    description: 'Example of a custom metric. Total number of data bytes processed by system handler',
  });
  await endpoint.serve<{ text?: unknown }>((req) => {
    const text = typeof req?.text === 'string' ? req.text : JSON.stringify(req);
    bytesProcessed.add(Buffer.byteLength(text));
    return (async function* () {
      for (const word of text.split(/\s+/).filter((w) => w !== '')) yield word;
    })();
  });
  log.info(`serving ${endpoint.path} as instance ${drt.instanceId}`);
});
