/**
 * One redaction for everything that reaches a log line, an error message or a label: the
 * userinfo of URLs (`nats://user:secret@host` → `nats://***@host`), query parameters that carry
 * credentials (`?token=…`, `password`, `secret`, `key`, `auth`, …) and header values. Pure.
 */

export const REDACTED = '***';

/** Query parameter names whose values are credentials. */
const SECRET_PARAM = /^(?:.*[-_])?(?:token|password|passwd|pass|pwd|secret|key|apikey|api[-_]key|auth|authorization|credentials?|signature|sig)$/i;

/** A URL-looking run: scheme://… up to white space or a quote. */
const URL_IN_TEXT = /\b[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s"'<>`]+/g;

/** `url` with its userinfo and credential-carrying query values replaced. Not a URL: returned as is. */
export function redactUrl(url: string): string {
  // userinfo, without relying on URL parsing (a bad URL may still carry a secret)
  let out = url.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/?#@\s]*@/, (_m, scheme: string) => `${scheme}${REDACTED}@`);
  const q = out.indexOf('?');
  if (q !== -1) {
    const hash = out.indexOf('#', q);
    const query = out.slice(q + 1, hash === -1 ? undefined : hash);
    const redacted = query
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=');
        if (eq === -1) return pair;
        let name = pair.slice(0, eq);
        try {
          name = decodeURIComponent(name);
        } catch {
          // keep the raw name
        }
        return SECRET_PARAM.test(name) ? `${pair.slice(0, eq)}=${REDACTED}` : pair;
      })
      .join('&');
    out = `${out.slice(0, q + 1)}${redacted}${hash === -1 ? '' : out.slice(hash)}`;
  }
  return out;
}

/** `text` with every URL in it redacted. */
export function redactText(text: string): string {
  return text.includes('://') ? text.replace(URL_IN_TEXT, redactUrl) : text;
}

/** Header names with their values hidden, for logs: `{ "api-key": "***" }`. */
export function redactHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.keys(headers).map((k) => [k, REDACTED]));
}
