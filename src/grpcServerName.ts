/**
 * Node.js 26 refuses a TLS `servername` that is an IP address (RFC 6066 allows only host names;
 * Node 20 to 24 printed the DEP0123 warning), and grpc-js 1.14 sets it to the target's host
 * whatever it is: an OTLP/gRPC export to `https://10.0.0.5:4317`, or etcd at
 * `https://10.0.0.5:2379`, then never connects. These credentials leave the server name out for
 * an IP target; the certificate is still checked against that IP (tls.connect checks `host` when
 * there is no server name).
 */
import { createRequire } from 'node:module';
import { isIP } from 'node:net';

interface SecureConnector {
  connectionOptions?: { servername?: string };
}
type ConnectorFactory = (...args: unknown[]) => SecureConnector;

export function withoutIpServerName<C extends object>(creds: C): C {
  const inner = creds as unknown as { _createSecureConnector?: ConnectorFactory };
  const create = inner._createSecureConnector;
  if (typeof create !== 'function') return creds; // another grpc-js: left as it is
  const wrapped = Object.create(creds) as { _createSecureConnector: ConnectorFactory };
  wrapped._createSecureConnector = (...args) => {
    const connector = create.apply(creds, args);
    const options = connector.connectionOptions;
    if (options?.servername !== undefined && isIP(options.servername) !== 0) delete options.servername;
    return connector;
  };
  return wrapped as unknown as C;
}

interface GrpcCredentialsApi {
  credentials: { createSsl: (...args: unknown[]) => object };
}

/** The grpc-js that etcd3 loads (the same copy unless a package manager nested another). */
function etcdGrpc(): GrpcCredentialsApi {
  const here = createRequire(import.meta.url);
  return createRequire(here.resolve('etcd3'))('@grpc/grpc-js') as GrpcCredentialsApi;
}

/**
 * Runs `build` (which creates gRPC TLS credentials synchronously, as etcd3's constructor does)
 * with every credential it creates leaving an IP server name out.
 */
export function withoutIpServerNames<T>(build: () => T): T {
  const { credentials } = etcdGrpc();
  const createSsl = credentials.createSsl;
  credentials.createSsl = (...args: unknown[]) => withoutIpServerName(createSsl.apply(credentials, args));
  try {
    return build();
  } finally {
    credentials.createSsl = createSsl;
  }
}
