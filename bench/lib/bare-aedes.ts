/**
 * Stock aedes, for the comparison row of issue 15 (bench/compare.ts): a plain broker on
 * 127.0.0.1 with aedes' defaults (in-memory persistence, no authentication, no hooks, no
 * store). Run as a child process: it listens on the port given in argv[2], says
 * { ready: true } over IPC, and exits on 'stop' or when its parent goes.
 */
import net from 'node:net';
import { Aedes } from 'aedes';

async function main(): Promise<void> {
  const port = Number(process.argv[2]);
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const stop = (): void => {
    server.close();
    broker.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('message', (m) => {
    if (m === 'stop') stop();
  });
  process.on('disconnect', stop);
  process.send!({ ready: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
