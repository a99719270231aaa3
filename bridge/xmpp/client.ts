/**
 * An XMPP client entity built from xmpp.js parts, as @xmpp/client's `client()` builds one,
 * with what a device-facing gateway needs and nothing more:
 * - TCP (`xmpp://`, upgraded with STARTTLS when the server offers it, RFC 6120 §5) or
 *   direct TLS (`xmpps://`), with our own TLS options (a private CA, or no verification
 *   for tests): `client()` gives STARTTLS no way to take them;
 * - SASL SCRAM-SHA-1, then PLAIN only on an encrypted stream (RFC 6120 §6); never
 *   ANONYMOUS, so a missing password cannot silently log in as nobody;
 * - resource binding (RFC 6120 §7) and an iq callee that answers XEP-0199 pings and
 *   `service-unavailable` to any other iq get/set (RFC 6120 §8.4);
 * - no stream management, no automatic reconnect: the bridge owns reconnection and
 *   correlates replies end to end (docs/xmpp.md).
 * Test meters and the simulator use the same factory.
 */
import { Client, xml } from '@xmpp/client-core';
import type { Element } from '@xmpp/xml';
import _tcp from '@xmpp/tcp';
import _tls from '@xmpp/tls';
import _middleware, { type Middleware } from '@xmpp/middleware';
import _streamFeatures from '@xmpp/stream-features';
import _iqCaller, { type IqCaller } from '@xmpp/iq/caller.js';
import _iqCallee from '@xmpp/iq/callee.js';
import { canUpgrade, upgrade } from '@xmpp/starttls/starttls.js';
import _sasl from '@xmpp/sasl';
import _resourceBinding from '@xmpp/resource-binding';
import SASLFactory from 'saslmechanisms';
import scramSha1 from '@xmpp/sasl-scram-sha-1';
import plain from '@xmpp/sasl-plain';

export interface XmppTlsOptions {
  /** Verify the server certificate (default true). */
  readonly rejectUnauthorized?: boolean;
  /** PEM of the CA (or self-signed certificate) to trust instead of the system store. */
  readonly ca?: string | Buffer;
  /** Refuse to log in on a stream that did not become TLS (no STARTTLS offered on xmpp://). */
  readonly required?: boolean;
}

/** The server offered no way to encrypt the stream and TLS is required. */
export class TlsRequiredError extends Error {
  override readonly name = 'TlsRequiredError';
}

/** Where and as whom an XMPP entity logs in (the bridge's and the simulator's clients). */
export interface XmppConnectionOptions {
  /** Where the XMPP server listens: `xmpp://host:port` (STARTTLS when offered) or `xmpps://host:port`. */
  readonly service: string;
  readonly domain: string;
  readonly username: string;
  readonly password: string;
  readonly resource?: string;
  readonly tls?: XmppTlsOptions;
}

export interface XmppClientOptions extends XmppConnectionOptions {
  /** Per-step timeout of the stream (open, close, iq), ms. */
  readonly timeoutMs?: number;
}

export interface XmppClient {
  readonly entity: Client;
  readonly iqCaller: IqCaller;
  readonly middleware: Middleware;
}

const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const NS_PING = 'urn:xmpp:ping';

export function createXmppClient(o: XmppClientOptions): XmppClient {
  if (!o.username || !o.password) throw new TypeError('XMPP username and password are required');
  const entity = new Client({ service: o.service, domain: o.domain, timeout: o.timeoutMs ?? 5000 });
  _tcp({ entity });
  _tls({ entity });
  const middleware = _middleware({ entity });
  const streamFeatures = _streamFeatures({ middleware });
  const iqCaller = _iqCaller({ middleware, entity });
  const iqCallee = _iqCallee({ middleware, entity });
  const tlsOptions = { servername: o.domain, host: o.domain, ...(o.tls?.ca !== undefined ? { ca: o.tls.ca } : {}), rejectUnauthorized: o.tls?.rejectUnauthorized ?? true };

  // Stream features in the order of XEP-0170: TLS, SASL, bind.
  // RFC 6120 §5.4: STARTTLS when offered, with our TLS options.
  streamFeatures.use('starttls', NS_TLS, async ({ entity: e }, next) => {
    if (!canUpgrade(e.socket)) return next();
    const answer: Element = await e.sendReceive(xml('starttls', { xmlns: NS_TLS }));
    if (!answer.is('proceed', NS_TLS)) throw new Error('STARTTLS refused by the server');
    e._attachSocket(await upgrade(e.socket, tlsOptions));
    await e.restart();
  });
  const saslFactory = new SASLFactory();
  scramSha1(saslFactory);
  plain(saslFactory);
  _sasl({ streamFeatures, saslFactory }, async (authenticate, mechanisms, _fast, e) => {
    // No STARTTLS offered on xmpp://: the password and every reading would cross in clear.
    if (o.tls?.required === true && !e.isSecure()) throw new TlsRequiredError(`${o.service} offered no STARTTLS; the bridge does not log in without TLS (xmpp.tls.allowPlaintext)`);
    // RFC 6120 §6.4.1 / RFC 4616 §5: PLAIN sends the password, so only over TLS.
    const usable = e.isSecure() ? mechanisms : mechanisms.filter((m) => m !== 'PLAIN');
    const mechanism = usable[0];
    if (mechanism === undefined) throw new Error(`no usable SASL mechanism among [${mechanisms.join(', ')}] on ${e.isSecure() ? 'a secure' : 'an unencrypted'} stream`);
    await authenticate({ username: o.username, password: o.password }, mechanism);
  });
  _resourceBinding({ iqCaller, streamFeatures }, o.resource);
  iqCallee.get(NS_PING, 'ping', () => ({})); // XEP-0199 §4
  // Direct TLS (`xmpps://`, RFC 7590) takes its options when the socket connects: the
  // socket goes to the service's host and port, the certificate is checked for the domain.
  const socketParameters = entity.socketParameters.bind(entity);
  entity.socketParameters = (service: string) => {
    const p = socketParameters(service);
    return p !== undefined && service.startsWith('xmpps:') ? { ...tlsOptions, ...p } : p;
  };
  return { entity, iqCaller, middleware };
}
