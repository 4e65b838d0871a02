/**
 * Options every command that joins a cluster shares: the endpoint names (validated as the
 * runtime does, as one-line config errors) and where NATS and etcd are.
 */
import { InvalidNameError } from '../runtime/errors.ts';
import { DEFAULT_ETCD_ENDPOINTS, DEFAULT_NATS_SERVER } from '../runtime/defaults.ts';
import { validateName, type NameKind } from '../runtime/names.ts';
import { pemProblem } from '../runtime/pem.ts';
import { ConfigError, type OptionTable } from './schema.ts';
import { parseString, parseUrlList, ValueError } from './values.ts';

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

/** TLS material given as a file path or PEM text: read now, so that a bad one is a one-line `ConfigError` at start. */
export function parsePemSource(v: unknown): string {
  const s = parseString(v);
  const problem = pemProblem(s); // the error line names the value already
  if (problem !== undefined) throw new ValueError(problem);
  return s;
}

export const NATS_URL_SCHEMES = ['nats', 'tls', 'ws', 'wss'] as const;
export const ETCD_URL_SCHEMES = ['http', 'https'] as const;

/**
 * `--nats-server` / `NATS_SERVER`, `--etcd-endpoints` / `ETCD_ENDPOINTS` and NATS's TLS
 * material (`--nats-tls-ca` / `NATS_CA`, `--nats-tls-cert` / `NATS_CERT`,
 * `--nats-tls-key` / `NATS_KEY`: a path or PEM text). The credentials themselves
 * (`NATS_AUTH_*`, `ETCD_AUTH_*`) are read from the environment only, as Dynamo reads them.
 */
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
    nats_tls_ca: {
      flag: 'nats-tls-ca',
      env: [{ name: 'NATS_CA' }],
      parse: parsePemSource,
      description: 'CA certificate of the NATS servers (a private CA): a file or PEM text; TLS is then required',
    },
    nats_tls_cert: {
      flag: 'nats-tls-cert',
      env: [{ name: 'NATS_CERT' }],
      parse: parsePemSource,
      description: 'client certificate for mutual TLS with NATS: a file or PEM text (with --nats-tls-key)',
    },
    nats_tls_key: {
      flag: 'nats-tls-key',
      env: [{ name: 'NATS_KEY' }],
      parse: parsePemSource,
      secret: true,
      description: 'key of the NATS client certificate: a file or PEM text',
    },
  } satisfies OptionTable;
}

type ConnectionValues = {
  nats_server: string[];
  etcd_endpoints: string[];
  nats_tls_ca?: string | undefined;
  nats_tls_cert?: string | undefined;
  nats_tls_key?: string | undefined;
};

/** What `DistributedRuntime.connect` takes from the loaded connection options (the rest comes from the environment). */
export function connectionSettings(v: ConnectionValues): {
  nats: { servers: string[]; tlsCa?: string; tlsCert?: string; tlsKey?: string };
  etcd: { endpoints: string[] };
} {
  return {
    nats: {
      servers: v.nats_server,
      ...(v.nats_tls_ca !== undefined ? { tlsCa: v.nats_tls_ca } : {}),
      ...(v.nats_tls_cert !== undefined ? { tlsCert: v.nats_tls_cert } : {}),
      ...(v.nats_tls_key !== undefined ? { tlsKey: v.nats_tls_key } : {}),
    },
    etcd: { endpoints: v.etcd_endpoints },
  };
}
