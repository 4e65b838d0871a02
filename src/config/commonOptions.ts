/**
 * Options every command that joins a cluster shares: the endpoint names (validated as the
 * runtime does, as one-line config errors) and where NATS and etcd are.
 */
import { InvalidNameError } from '../runtime/errors.ts';
import { DEFAULT_ETCD_ENDPOINTS, DEFAULT_NATS_SERVER } from '../runtime/defaults.ts';
import { validateName, type NameKind } from '../runtime/names.ts';
import { ConfigError, type OptionTable } from './schema.ts';
import { parseString, parseUrlList } from './values.ts';

/** Parses a namespace, component or endpoint name; an invalid one is a `ConfigError`. */
export function nameParser(kind: NameKind): (v: unknown) => string {
  return (v) => {
    const s = parseString(v);
    try {
      return validateName(kind, s);
    } catch (err) {
      if (err instanceof InvalidNameError) throw new ConfigError(err.message);
      throw err;
    }
  };
}

/** `--namespace` / `DYN_NAMESPACE`, as every command that joins a namespace takes it. */
export function namespaceOption(defaultNamespace: string, description: string) {
  return { flag: 'namespace', env: [{ name: 'DYN_NAMESPACE' }], parse: nameParser('namespace'), default: defaultNamespace, description };
}

export const NATS_URL_SCHEMES = ['nats', 'tls', 'ws', 'wss'] as const;
export const ETCD_URL_SCHEMES = ['http', 'https'] as const;

/** `--nats-server` / `NATS_SERVER` and `--etcd-endpoints` / `ETCD_ENDPOINTS`. */
export function connectionOptions() {
  return {
    nats_server: {
      flag: 'nats-server',
      env: [{ name: 'NATS_SERVER' }],
      parse: (v: unknown) => parseUrlList(v, NATS_URL_SCHEMES),
      default: [DEFAULT_NATS_SERVER],
      description: 'NATS server URL(s), comma-separated',
    },
    etcd_endpoints: {
      flag: 'etcd-endpoints',
      env: [{ name: 'ETCD_ENDPOINTS' }],
      parse: (v: unknown) => parseUrlList(v, ETCD_URL_SCHEMES),
      default: [DEFAULT_ETCD_ENDPOINTS],
      description: 'etcd endpoint URL(s), comma-separated',
    },
  } satisfies OptionTable;
}
