/**
 * `system_server`: an example component with automatic endpoint metrics and the custom metric
 * `dynamo_component_bytes_processed_total`, and a client mode that sends it requests.
 *
 *   DYN_SYSTEM_ENABLED=true DYN_SYSTEM_PORT=8081 system_server
 *   system_server --client --requests 10
 *   curl localhost:8081/metrics | grep dynamo_component
 */
import { parseInteger, parseBool } from '../config/values.ts';
import { connectionOptionSpecs, nameParser } from '../config/commonOptions.ts';
import type { OptionSpec } from '../config/schema.ts';
import { connectInstrumented } from '../../instrumentation/index.ts';
import { getLogger } from '../log.ts';
import { DistributedRuntime } from '../runtime/index.ts';
import { parseCommand } from './args.ts';
import { onShutdownSignal, runCommand } from './run.ts';

/** The example's names, as in the seed's example output. */
export const EXAMPLE_NAMESPACE = 'example_namespace';
export const EXAMPLE_COMPONENT = 'example_component';
export const EXAMPLE_ENDPOINT = 'example_endpoint';
export const DEFAULT_CLIENT_REQUESTS = 10;

const log = getLogger('system_server');

const SPECS: OptionSpec[] = [
  { key: 'namespace', flag: 'namespace', env: [{ name: 'DYN_NAMESPACE' }], parse: nameParser('namespace'), default: EXAMPLE_NAMESPACE, description: 'namespace of the example endpoint' },
  { key: 'component', flag: 'component', parse: nameParser('component'), default: EXAMPLE_COMPONENT, description: 'component of the example endpoint' },
  { key: 'endpoint', flag: 'endpoint', parse: nameParser('endpoint'), default: EXAMPLE_ENDPOINT, description: 'name of the example endpoint' },
  { key: 'client', flag: 'client', boolean: true, parse: parseBool, default: false, description: 'send requests to the endpoint instead of serving it' },
  { key: 'requests', flag: 'requests', parse: (v) => parseInteger(v, 1, 1_000_000), default: DEFAULT_CLIENT_REQUESTS, description: 'with --client: how many requests to send' },
  ...connectionOptionSpecs(),
];

runCommand('system_server', async () => {
  const { values } = parseCommand(
    {
      name: 'system_server',
      usage: 'system_server [--client] [options]',
      about: 'Example component: serves an endpoint that streams back the words of each request, with automatic metrics and dynamo_component_bytes_processed_total. Enable its status server with DYN_SYSTEM_ENABLED=true DYN_SYSTEM_PORT=8081.',
    },
    SPECS,
  );
  const get = <T>(k: string): T => values.get(k) as T;
  const connection = { nats: { servers: get<string[]>('nats_server') }, etcd: { endpoints: get<string[]>('etcd_endpoints') } };
  // the client measures nothing; the served example has automatic metrics and the status server
  const drt = get<boolean>('client') ? await DistributedRuntime.connect(connection) : await connectInstrumented(connection);
  onShutdownSignal('system_server', () => drt.shutdown());
  const endpoint = drt.namespace(get('namespace')).component(get('component')).endpoint(get('endpoint'));

  if (get<boolean>('client')) {
    const client = await endpoint.client();
    await client.waitForInstances(1, 10_000);
    const n = get<number>('requests');
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
