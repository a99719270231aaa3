/**
 * Which of the gateway's listeners and connections would carry secrets or readings in
 * clear beyond this machine (docs/operations.md, "Transport security"). The gateway logs
 * each at start as a warning with code W_PLAINTEXT; nothing is refused, because a site
 * LAN may be trusted, but nobody should run it that way without knowing.
 */
import { isIP } from 'node:net';
import type { GatewayConfig } from './config.js';

/** Warning code of a plain-text listener or connection on a non-loopback address. */
export const PLAINTEXT_WARNING = 'W_PLAINTEXT';

/** 127.0.0.0/8, ::1 (also written out or IPv4-mapped) and localhost: never leaves the box. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    // The WHATWG URL parser writes an IPv6 address in its one compressed form (::ffff:7f00:1).
    const n = new URL(`http://[${h}]/`).hostname;
    return n === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(n);
  }
  return false;
}

export interface PlaintextWarning {
  /** The setting that opens it. */
  readonly setting: string;
  /** Where: a URL of the listener or the server connected to. */
  readonly address: string;
  /** What crosses in clear and what to set instead. */
  readonly advice: string;
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return url;
  }
}

function show(scheme: string, host: string, port: number): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Whether the XMPP bridge must refuse a stream without TLS: always, unless allowed or on loopback. */
export function xmppTlsRequired(x: NonNullable<GatewayConfig['xmpp']>): boolean {
  return !x.tls.allowPlaintext && !isLoopbackHost(hostOf(x.service));
}

/** Every plain-text listener or connection of `c` that reaches beyond loopback. */
export function plaintextWarnings(c: GatewayConfig): PlaintextWarning[] {
  const out: PlaintextWarning[] = [];
  if (c.mqtt.plaintext && !isLoopbackHost(c.mqtt.host)) {
    out.push({
      setting: 'mqtt.port', address: show('mqtt', c.mqtt.host, c.mqtt.port),
      advice: 'meters\' passwords, tokens and readings cross in clear; serve mqtt.tls and set mqtt.plaintext to false',
    });
  }
  if (c.mqtt.ws && !isLoopbackHost(c.mqtt.host)) {
    out.push({
      setting: 'mqtt.ws.port', address: show('ws', c.mqtt.host, c.mqtt.ws.port),
      advice: 'MQTT over WebSocket has no TLS of its own; put a TLS proxy in front of it and bind mqtt.host to loopback, or drop mqtt.ws',
    });
  }
  if (!c.http.tls && !isLoopbackHost(c.http.host)) {
    out.push({
      setting: 'http.port', address: show('http', c.http.host, c.http.port),
      advice: 'the admin token, owner sessions and readings cross in clear, and browsers refuse the portal\'s WebCrypto sign-in; set http.tls',
    });
  }
  if (c.nats && !c.nats.tls) {
    for (const server of c.nats.servers) {
      if (server.startsWith('nats:') && !isLoopbackHost(hostOf(server))) {
        out.push({
          setting: 'nats.servers', address: server,
          advice: 'peer messages are signed but readings in them cross in clear unless the server demands TLS; use tls:// or set nats.tls',
        });
      }
    }
  }
  if (c.xmpp && c.xmpp.tls.allowPlaintext && c.xmpp.service.startsWith('xmpp:') && !isLoopbackHost(hostOf(c.xmpp.service))) {
    out.push({
      setting: 'xmpp.tls.allowPlaintext', address: c.xmpp.service,
      advice: 'the gateway logs in without TLS when the server offers no STARTTLS; the password and readings would cross in clear',
    });
  }
  return out;
}
