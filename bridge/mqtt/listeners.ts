/**
 * The only code in the bridge that opens sockets: plain TCP, TLS (client certificates
 * requested) and MQTT over WebSocket on path /mqtt. Each connection is handed to aedes
 * as a Duplex stream.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
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

export interface Listeners {
  addresses(): { tcp?: number; tls?: number; ws?: number };
  /** Stop accepting, run `drain` (aedes closes its clients), then destroy what is left. */
  close(drain?: () => Promise<void>): Promise<void>;
}

export const WS_PATH = '/mqtt';

type Handle = (conn: Duplex, req?: IncomingMessage) => void;

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

export async function startListeners(opts: ListenOptions, handle: Handle, log: BridgeLogger, maxWsPayload: number): Promise<Listeners> {
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const ports: { tcp?: number; tls?: number; ws?: number } = {};
  let wss: WebSocketServer | undefined;
  const track = (s: Server): Server => {
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
      ports.tcp = await listen(track(createNetServer((sock) => handle(sock))), opts.tcp.host, opts.tcp.port);
    }
    if (opts.tls) {
      const { key, cert, ca } = opts.tls;
      // The meter's key is in its certificate; without a CA any certificate is let through
      // the handshake and auth.ts compares its key with the registered one.
      const server = createTlsServer({ key, cert, ...(ca ? { ca } : {}), requestCert: true, rejectUnauthorized: ca !== undefined, minVersion: 'TLSv1.2' }, (sock) => handle(sock));
      server.on('tlsClientError', (err) => log.debug({ err: err.message }, 'tls handshake failed'));
      ports.tls = await listen(track(server), opts.tls.host, opts.tls.port);
    }
    if (opts.ws) {
      const http = createHttpServer((_req, res) => res.writeHead(426, { upgrade: 'websocket' }).end());
      wss = new WebSocketServer({ server: http, path: WS_PATH, maxPayload: maxWsPayload });
      wss.on('connection', (ws, req) => {
        const stream = createWebSocketStream(ws);
        stream.on('error', (err) => log.debug({ err: err.message }, 'websocket stream error'));
        handle(stream, req);
      });
      wss.on('error', (err) => log.error({ err }, 'websocket server error'));
      ports.ws = await listen(track(http), opts.ws.host, opts.ws.port);
    }
  } catch (e) {
    await listeners.close();
    throw e;
  }
  return listeners;
}
