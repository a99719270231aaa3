/**
 * Credentials in server URLs (nats://user:pass@host, nats://token@host) are a NATS
 * convention; they must never reach a log line, an error message or the terminal.
 */

/** scheme://userinfo@ : the userinfo ends at the last '@' before the host (RFC 3986 §3.2.1). */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/\s@]*)@/gi;

/** Every URL in `text` with its password (or token) replaced by "***"; the user name stays. */
export function redactUrls(text: string): string {
  return text.replace(USERINFO, (_m, scheme: string, info: string) => {
    const colon = info.indexOf(':');
    return `${scheme}${colon >= 0 ? `${info.slice(0, colon)}:***` : '***'}@`;
  });
}

export interface SplitUrl {
  /** The URL without userinfo, safe to log and to hand to a client. */
  readonly url: string;
  /** user:pass, or a token alone (nats://token@host), percent-decoded. */
  readonly auth?: { user: string; pass: string } | { token: string };
}

/** Take the credentials out of a server URL. */
export function splitCredentials(url: string): SplitUrl {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/\s@]*)@(.*)$/i.exec(url.trim());
  if (!m) return { url: url.trim() };
  const [, scheme, info, rest] = m as unknown as [string, string, string, string];
  const colon = info.indexOf(':');
  const dec = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const auth = colon >= 0 ? { user: dec(info.slice(0, colon)), pass: dec(info.slice(colon + 1)) } : { token: dec(info) };
  return { url: `${scheme}${rest}`, auth };
}
