/**
 * Node.js 26 refuses a TLS `servername` that is an IP address (RFC 6066 allows only host names;
 * Node 20 to 24 printed the DEP0123 warning), and grpc-js 1.14 sets it to the target's host
 * whatever it is: an OTLP/gRPC export to `https://10.0.0.5:4317` then never connects. These
 * credentials leave the server name out for an IP target; the certificate is still checked
 * against that IP (tls.connect checks `host` when there is no server name).
 */
import { isIP } from 'node:net';
import type { ChannelCredentials } from '@grpc/grpc-js';

interface SecureConnector {
  connectionOptions?: { servername?: string };
}
type ConnectorFactory = (...args: unknown[]) => SecureConnector;

export function withoutIpServerName(creds: ChannelCredentials): ChannelCredentials {
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
  return wrapped as unknown as ChannelCredentials;
}
