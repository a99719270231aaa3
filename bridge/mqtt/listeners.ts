/**
 * The only code in the bridge that opens sockets: plain TCP, TLS (client certificates
 * requested) and MQTT over WebSocket on path /mqtt. Each connection is handed to the
 * broker as a Duplex stream. Every listener holds at most `maxConnections` sockets (more
 * are closed as they arrive, so a flood cannot take the process's file descriptors), and
 * a TLS handshake or WebSocket upgrade must finish within `setupTimeoutMs`, as CONNECT
 * must on plain TCP (slowloris).
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { BridgeLogger } from './logger.js';

export interface ListenOptions {
  readonly tcp?: { host: string; port: number };
  readonly tls?: { host: string; port: number; key: string | Buffer; cert: string | Buffer; ca?: string | Buffer };
  readonly ws?: { host: string; port: number };
}

export interface ListenLimits {
  /** Sockets each listener holds at most. */
  readonly maxConnections: number;
  /** Time a TLS handshake or a WebSocket upgrade has from the TCP accept. */
  readonly setupTimeoutMs: number;
  /** Largest WebSocket message. */
  readonly maxWsPayload: number;
}

/** Where a connection comes from. */
export interface ConnectionInfo {
  readonly remoteAddress?: string;
}

export interface Listeners {
  addresses(): { tcp?: number; tls?: number; ws?: number };
  /** Stop accepting, run `drain` (aedes closes its clients), then destroy what is left. */
  close(drain?: () => Promise<void>): Promise<void>;
}

export const WS_PATH = '/mqtt';

type Handle = (conn: Duplex, info: ConnectionInfo) => void;

/** Dropped connections are logged at most this often, with their count. */
const DROP_LOG_MS = 10_000;

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function startListeners(opts: ListenOptions, handle: Handle, log: BridgeLogger, limits: ListenLimits): Promise<Listeners> {
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const ports: { tcp?: number; tls?: number; ws?: number } = {};
  let wss: WebSocketServer | undefined;
  const track = (s: Server, name: string): Server => {
    s.maxConnections = limits.maxConnections;
    let dropped = 0;
    let lastLog = 0;
    s.on('drop', () => {
      dropped++;
      if (Date.now() - lastLog < DROP_LOG_MS) return;
      lastLog = Date.now();
      log.warn({ listener: name, dropped, maxConnections: limits.maxConnections }, 'mqtt listener full: connections closed on arrival');
      dropped = 0;
    });
    s.on('connection', (sock: Socket) => {
      sockets.add(sock);
      sock.once('close', () => sockets.delete(sock));
    });
    s.on('error', (err) => log.error({ err }, 'mqtt listener error'));
    servers.push(s);
    return s;
  };
  const listeners: Listeners = {
    addresses: () => ({ ...ports }),
    async close(drain) {
      const closing = servers.map(closeServer);
      wss?.close();
      if (drain) await drain();
      for (const s of servers) (s as HttpServer).closeAllConnections?.();
      for (const sock of sockets) sock.destroy();
      await Promise.all(closing);
    },
  };
  try {
    if (opts.tcp) {
      ports.tcp = await listen(track(createNetServer((sock) => handle(sock, { remoteAddress: sock.remoteAddress })), 'tcp'), opts.tcp.host, opts.tcp.port);
    }
    if (opts.tls) {
      const { key, cert, ca } = opts.tls;
      // The meter's key is in its certificate; without a CA any certificate is let through
      // the handshake and auth.ts compares its key with the registered one.
      const server = createTlsServer({
        key, cert, ...(ca ? { ca } : {}), requestCert: true, rejectUnauthorized: ca !== undefined, minVersion: 'TLSv1.2',
        handshakeTimeout: limits.setupTimeoutMs, // Node's default is 120 s
      }, (sock) => handle(sock, { remoteAddress: sock.remoteAddress }));
      // Node leaves the socket open when this event has a listener: a timed-out or failed
      // handshake must be closed here.
      server.on('tlsClientError', (err, sock) => {
        log.debug({ err: err.message }, 'tls handshake failed');
        sock.destroy();
      });
      ports.tls = await listen(track(server, 'tls'), opts.tls.host, opts.tls.port);
    }
    if (opts.ws) {
      // Node's defaults would let a request's headers take 60 s and the request 300 s.
      const http = createHttpServer({ headersTimeout: limits.setupTimeoutMs, requestTimeout: limits.setupTimeoutMs },
        (_req, res) => res.writeHead(426, { upgrade: 'websocket', connection: 'close' }).end());
      // Node checks those timeouts only every 30 s; this closes a socket not upgraded in time.
      const upgraded = new WeakSet<Socket>();
      http.on('connection', (sock: Socket) => {
        const timer = setTimeout(() => {
          if (!upgraded.has(sock)) sock.destroy();
        }, limits.setupTimeoutMs);
        timer.unref();
        sock.once('close', () => clearTimeout(timer));
      });
      wss = new WebSocketServer({ server: http, path: WS_PATH, maxPayload: limits.maxWsPayload });
      wss.on('connection', (ws, req) => {
        upgraded.add(req.socket as Socket);
        const stream = createWebSocketStream(ws);
        stream.on('error', (err) => log.debug({ err: err.message }, 'websocket stream error'));
        handle(stream, { remoteAddress: req.socket.remoteAddress });
      });
      wss.on('error', (err) => log.error({ err }, 'websocket server error'));
      ports.ws = await listen(track(http, 'ws'), opts.ws.host, opts.ws.port);
    }
  } catch (e) {
    await listeners.close();
    throw e;
  }
  return listeners;
}
