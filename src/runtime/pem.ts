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

/** How a PEM certificate begins (a CA file may hold keys or parameters too). */
export const PEM_CERTIFICATE = '-----BEGIN CERTIFICATE-----';

export function isPemText(value: string): boolean {
  return value.trimStart().startsWith(PEM_PREFIX);
}

/** What stands in the way of reading `value` as PEM (`cannot be read: …`, `holds no PEM data …`), or its bytes. */
function pemOf(value: string): { bytes: Buffer } | { problem: string } {
  if (isPemText(value)) {
    if (/PRIVATE KEY/.test(value)) registerSecret(value.trim());
    return { bytes: Buffer.from(`${value.trim()}\n`) };
  }
  let data: Buffer;
  try {
    data = readFileSync(value);
  } catch (err) {
    return { problem: `cannot be read: ${errorMessage(err)}` };
  }
  return data.includes(PEM_PREFIX) ? { bytes: data } : { problem: `holds no PEM data (expected ${PEM_PREFIX}…)` };
}

/** Why `value` is not usable TLS material (a readable file holding PEM, or PEM text), or undefined. */
export function pemProblem(value: string): string | undefined {
  const r = pemOf(value);
  return 'problem' in r ? r.problem : undefined;
}

/**
 * The PEM bytes `value` stands for: the text itself, or the contents of the file it names.
 * `what` names the setting in the error (`NATS_KEY`); a file that cannot be read is a
 * `makeError` with one line that names the path, never the contents.
 */
export function readPem(value: string, what: string, makeError: (message: string) => Error): Buffer {
  const r = pemOf(value);
  if ('problem' in r) throw makeError(`${what} ${value} ${r.problem}`);
  return r.bytes;
}
