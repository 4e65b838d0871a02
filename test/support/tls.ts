/**
 * A private certificate authority for tests, made with Debian's openssl: a CA, a server
 * certificate for 127.0.0.1 and localhost, and a client certificate, all signed by the CA.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './process.ts';

export interface CertFiles {
  cert: string;
  key: string;
}

export interface PrivateCa {
  dir: string;
  /** The CA certificate's path. */
  ca: string;
  server: CertFiles;
  client: CertFiles;
  /** A file's text (to pass PEM text instead of a path). */
  text(path: string): string;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

function signed(dir: string, name: string, ca: CertFiles, subject: string, extensions: string): CertFiles {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', subject]);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
  return { cert, key };
}

export function privateCa(): PrivateCa {
  const dir = tempDir('dyn-ca-');
  const caFiles = { cert: join(dir, 'ca.pem'), key: join(dir, 'ca.key') };
  openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    caFiles.key,
    '-out',
    caFiles.cert,
    '-days',
    '2',
    '-subj',
    '/CN=dynamo-metrics test CA',
  ]);
  const server = signed(
    dir,
    'server',
    caFiles,
    '/CN=127.0.0.1',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  const client = signed(dir, 'client', caFiles, '/CN=dynamo-client', 'extendedKeyUsage=clientAuth\n');
  return { dir, ca: caFiles.cert, server, client, text: (p) => readFileSync(p, 'utf8') };
}
