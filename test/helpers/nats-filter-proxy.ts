/**
 * A NATS-protocol-aware TCP proxy on 127.0.0.1, between one client and one server, that
 * lets a test decide the fate of each message: it parses the client protocol both ways
 * (PUB and HPUB going up, MSG and HMSG coming down; every other line, CONNECT, INFO, SUB,
 * PING ..., passes untouched) and asks a filter per message. Dropping a message is what a
 * network may do to NATS core traffic, so the client and server both stay well: the
 * connection, its subscriptions and its pings live on. A filter that drops everything is
 * a blackhole that the client cannot tell from silence.
 *
 *   PUB <subject> [reply-to] <#bytes>\r\n<payload>\r\n
 *   HPUB <subject> [reply-to] <#header bytes> <#total bytes>\r\n<headers><payload>\r\n
 *   MSG <subject> <sid> [reply-to] <#bytes>\r\n<payload>\r\n
 *   HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>\r\n<headers><payload>\r\n
 */
import net from 'node:net';

export interface NatsFrame {
  /** 'up': from the client (PUB, HPUB); 'down': to the client (MSG, HMSG). */
  readonly dir: 'up' | 'down';
  readonly subject: string;
  readonly replyTo: string | undefined;
  /** The payload, headers stripped. */
  readonly payload: Uint8Array;
}

/** true lets the message through. */
export type FrameFilter = (f: NatsFrame) => boolean;

export interface NatsFilterProxy {
  readonly port: number;
  readonly url: string;
  /** The filter from now on; undefined passes everything. */
  setFilter(f: FrameFilter | undefined): void;
  /** Messages passed and dropped so far. */
  counts(): { passed: number; dropped: number };
  close(): Promise<void>;
}

const CRLF = Buffer.from('\r\n');
const MESSAGE_OPS = new Set(['PUB', 'HPUB', 'MSG', 'HMSG']);

/**
 * Parse one direction of a connection: forwards bytes that are not messages as they
 * come, and each whole message that the filter lets through.
 */
export class FrameStream {
  private buf: Buffer = Buffer.alloc(0);

  constructor(
    private readonly dir: 'up' | 'down',
    private readonly decide: (f: NatsFrame) => boolean,
    private readonly forward: (b: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Buffer[] = [];
    let at = 0;
    for (;;) {
      const eol = this.buf.indexOf(CRLF, at);
      if (eol < 0) break;
      const line = this.buf.toString('latin1', at, eol);
      const words = line.split(/[ \t]+/).filter((w) => w !== '');
      const op = (words[0] ?? '').toUpperCase();
      if (!MESSAGE_OPS.has(op)) {
        out.push(this.buf.subarray(at, eol + 2));
        at = eol + 2;
        continue;
      }
      // Sizes are the last one or two words; the subject first, a reply-to maybe.
      const headers = op === 'HPUB' || op === 'HMSG';
      const total = Number(words.at(-1));
      const hdr = headers ? Number(words.at(-2)) : 0;
      const base = op === 'MSG' || op === 'HMSG' ? 3 : 2; // op, subject, sid of a MSG
      const replyTo = words.length === base + (headers ? 2 : 1) + 1 ? words[base] : undefined;
      if (!Number.isSafeInteger(total) || !Number.isSafeInteger(hdr) || hdr > total) throw new Error(`nats-filter-proxy: cannot parse "${line}"`);
      const end = eol + 2 + total + 2;
      if (this.buf.length < end) break; // the rest of this message is still on its way
      const payload = new Uint8Array(this.buf.subarray(eol + 2 + hdr, eol + 2 + total));
      if (this.decide({ dir: this.dir, subject: words[1]!, replyTo, payload })) out.push(this.buf.subarray(at, end));
      at = end;
    }
    if (out.length) this.forward(Buffer.concat(out));
    this.buf = this.buf.subarray(at);
  }
}

export async function startNatsFilterProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<NatsFilterProxy> {
  let filter: FrameFilter | undefined;
  let passed = 0;
  let dropped = 0;
  const sockets = new Set<net.Socket>();
  const decide = (f: NatsFrame): boolean => {
    let ok = true;
    try {
      ok = filter ? filter(f) : true;
    } catch {
      ok = true; // a filter that cannot read a message lets it pass
    }
    if (ok) passed++;
    else dropped++;
    return ok;
  };

  const server = net.createServer((client) => {
    const upstream = net.connect({ port: targetPort, host: targetHost });
    sockets.add(client).add(upstream);
    const end = (): void => {
      sockets.delete(client);
      sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    const up = new FrameStream('up', decide, (b) => upstream.write(b));
    const down = new FrameStream('down', decide, (b) => client.write(b));
    client.on('data', (d: Buffer) => {
      try {
        up.push(d);
      } catch {
        end();
      }
    });
    upstream.on('data', (d: Buffer) => {
      try {
        down.push(d);
      } catch {
        end();
      }
    });
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    setFilter(f) {
      filter = f;
    },
    counts: () => ({ passed, dropped }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        sockets.clear();
        server.close(() => resolve());
      }),
  };
}
