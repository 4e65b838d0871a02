/**
 * TLS material given either as a file path or as the PEM text itself (Dynamo's deployments pass
 * `ETCD_AUTH_*` as PEM text; files are what most tools take). The text is never echoed: a key is
 * a secret, and a certificate in an error line helps nobody.
 */
import { readFileSync } from 'node:fs';
import { errorMessage } from '../errors.ts';
import { registerSecret } from '../redact.ts';

/** How PEM text begins; anything else is a path. */
export const PEM_PREFIX = '-----BEGIN ';

export function isPemText(value: string): boolean {
  return value.trimStart().startsWith(PEM_PREFIX);
}

/**
 * The PEM bytes `value` stands for: the text itself, or the contents of the file it names.
 * `what` names the setting in the error (`NATS_KEY`); a file that cannot be read is a
 * `makeError` with one line that names the path, never the contents.
 */
export function readPem(value: string, what: string, makeError: (message: string) => Error): Buffer {
  if (isPemText(value)) {
    if (/PRIVATE KEY/.test(value)) registerSecret(value.trim());
    return Buffer.from(value.trim() + '\n');
  }
  let data: Buffer;
  try {
    data = readFileSync(value);
  } catch (err) {
    throw makeError(`cannot read ${what} ${value}: ${errorMessage(err)}`);
  }
  if (!data.includes(PEM_PREFIX)) {
    throw makeError(`${what} ${value} holds no PEM data (expected ${PEM_PREFIX}…)`);
  }
  return data;
}
