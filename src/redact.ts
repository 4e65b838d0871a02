/**
 * One redaction for everything that reaches a log line, an error message or a label:
 *
 * - every secret the process was configured with (passwords, tokens, header values, the userinfo
 *   of configured URLs), wherever it appears and whatever surrounds it (`registerSecret`);
 * - the userinfo of URLs, with or without a scheme (`nats://user:secret@host`,
 *   `user:secret@host:4222` → `***@host`), a password holding `/`, `@` or `:` included;
 * - query parameters that carry credentials (`?token=…`, `password`, `secret`, `key`, `auth`, …);
 * - the values of credential headers however they are written (`Authorization: Bearer …`,
 *   `api-key=…`, `"x-api-key":"…"`).
 *
 * Pure but for the registry of known secrets.
 */

export const REDACTED = '***';
/** Shorter registered secrets are not searched for (they would hide common text); patterns still apply. */
export const MIN_REGISTERED_SECRET_LENGTH = 4;

/** Query parameter names whose values are credentials. */
const SECRET_PARAM =
  /^(?:.*[-_])?(?:token|password|passwd|pass|pwd|secret|key|apikey|api[-_]key|auth|authorization|credentials?|signature|sig)$/i;

/** A URL-looking run: scheme://… up to white space or a quote. */
const URL_IN_TEXT = /\b[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s"'<>`]+/g;

/** `user:password@host` with no scheme: a user, a colon, anything but white space, then `@` and a host. */
const BARE_USERINFO = /(^|[\s,;=("'[])[^\s,;=("'[\]/@:]+:(?!\/\/)[^\s"'<>`]*@(?=[A-Za-z0-9[])/g;

/**
 * A credential header with its value: `Authorization: Bearer x`, `api-key=x`, `"x-api-key": "x"`.
 * The value is its auth scheme, if any, and one token; in a URL query it ends at `&` (the next
 * parameter stays readable).
 */
const HEADER_VALUE =
  /(\b(?:proxy-)?authorization|\b[\w-]*(?:api[-_]?key|token|secret|password|passwd)|\bcookie|\bset-cookie)("?\s*[:=]\s*"?)((?:(?:bearer|basic|token|digest|apikey)\s+)?[^\s"',;]+)/gi;

const secrets = new Set<string>();
/** The secrets longest first (a secret that contains another is replaced whole), rebuilt after a registration. */
let longestFirst: string[] | undefined;

/**
 * Registers a secret the process was given: from now on it never appears in redacted text, in
 * whatever shape it is printed (raw, or URL-encoded).
 */
export function registerSecret(value: string | undefined): void {
  if (value === undefined) return;
  for (const v of new Set([value, safeEncode(value), safeDecode(value)])) {
    if (v.length >= MIN_REGISTERED_SECRET_LENGTH && !secrets.has(v)) {
      secrets.add(v);
      longestFirst = undefined;
    }
  }
}

/** Registers the userinfo (user and password) of `url`, with or without a scheme. */
export function registerUrlSecrets(url: string): void {
  const at = url.lastIndexOf('@');
  if (at === -1) return;
  const start = url.indexOf('://') === -1 ? 0 : url.indexOf('://') + 3;
  if (at < start) return;
  const userinfo = url.slice(start, at);
  const colon = userinfo.indexOf(':');
  if (colon !== -1) registerSecret(userinfo.slice(colon + 1));
  else if (start > 0) registerSecret(userinfo); // a token alone, in a URL with a scheme (not `ops@example.com`)
}

function safeEncode(v: string): string {
  return encodeURIComponent(v);
}

/** `decodeURIComponent(v)`, or `v` itself when it is not valid percent-encoding. */
export function safeDecode(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

function knownSecrets(text: string): string {
  if (secrets.size === 0) return text;
  longestFirst ??= [...secrets].sort((a, b) => b.length - a.length);
  let out = text;
  for (const secret of longestFirst) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

/** `url` with its userinfo and credential-carrying query values replaced. Not a URL: returned as is. */
export function redactUrl(url: string): string {
  // userinfo up to the last `@` of the run (a password may hold `@`, `/` or `:`), without relying
  // on URL parsing (a bad URL may still carry a secret)
  let out = url.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)\S*@/, (_m, scheme: string) => `${scheme}${REDACTED}@`);
  const q = out.indexOf('?');
  if (q !== -1) {
    const hash = out.indexOf('#', q);
    const query = out.slice(q + 1, hash === -1 ? undefined : hash);
    const redacted = query
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=');
        if (eq === -1) return pair;
        return SECRET_PARAM.test(safeDecode(pair.slice(0, eq))) ? `${pair.slice(0, eq)}=${REDACTED}` : pair;
      })
      .join('&');
    out = `${out.slice(0, q + 1)}${redacted}${hash === -1 ? '' : out.slice(hash)}`;
  }
  return out;
}

/** `text` with every known secret, URL userinfo, credential parameter and credential header value hidden. */
export function redactText(text: string): string {
  // headers first: a header value may itself look like userinfo (`api-key:K@Y`)
  let out = knownSecrets(text).replace(HEADER_VALUE, (m, name: string, sep: string, value: string, at: number, whole: string) => {
    // a URL query parameter (after `?` or `&`) ends at the next `&`; a header's value does not
    const inQuery = at > 0 && (whole[at - 1] === '?' || whole[at - 1] === '&');
    const amp = inQuery ? value.indexOf('&') : -1;
    const secret = amp === -1 ? value : value.slice(0, amp);
    return secret === REDACTED ? m : `${name}${sep}${REDACTED}${amp === -1 ? '' : value.slice(amp)}`;
  });
  if (out.includes('://')) out = out.replace(URL_IN_TEXT, redactUrl);
  if (out.includes('@')) out = out.replace(BARE_USERINFO, (_m, before: string) => `${before}${REDACTED}@`);
  return out;
}

/** Header names with their values hidden, for logs: `{ "api-key": "***" }`. */
export function redactHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.keys(headers).map((k) => [k, REDACTED]));
}
