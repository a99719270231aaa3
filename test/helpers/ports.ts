/** Loopback helpers shared by the test harnesses. */
import net from 'node:net';

/**
 * Ports are drawn below Linux's ephemeral range (32768-60999 by default), so a port we
 * pick and release cannot be taken in the meantime as the source port of one of the many
 * outgoing connections (NATS clients, MQTT meters) the tests make. That race, with bind(0)
 * ports from inside the ephemeral range, is how a gateway could fail to start with
 * EADDRINUSE on a busy machine.
 */
const LOW = 20_000;
const HIGH = 32_000;
const handedOut = new Set<number>();

function tryBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A port free right now on 127.0.0.1, never handed out before by this process. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handedOut.has(port)) continue;
    if (await tryBind(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`freePort: no free port in ${LOW}-${HIGH} after 200 tries`);
}

/** Whether something accepts TCP connections on 127.0.0.1:port now. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
