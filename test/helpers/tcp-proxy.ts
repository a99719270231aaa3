/**
 * A tiny TCP proxy on 127.0.0.1 so a test can cut one client off from its server (every
 * connection destroyed, new ones accepted and closed at once, as a dead link looks to a
 * dialler) and heal it again, without touching the server.
 */
import net from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Destroy every proxied connection and refuse new ones until heal(). */
  cut(): void;
  heal(): void;
  /** Number of proxied connections open now. */
  connections(): number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let isCut = false;

  const server = net.createServer((client) => {
    if (isCut) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ port: targetPort, host: targetHost });
    const pair = { client, upstream };
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;

  const destroyAll = (): void => {
    for (const p of pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    pairs.clear();
  };

  return {
    port,
    cut() {
      isCut = true;
      destroyAll();
    },
    heal() {
      isCut = false;
    },
    connections: () => pairs.size,
    close: () =>
      new Promise<void>((resolve) => {
        isCut = true;
        destroyAll();
        server.close(() => resolve());
      }),
  };
}
