/**
 * A man in the middle for HTTP on 127.0.0.1: forwards every request to the gateway and
 * lets a test rewrite chosen JSON answers (a receipt with one byte flipped, another
 * genesis) before the browser sees them. Streams (server-sent events) pass through.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Return a new JSON body for this path, or undefined to pass the answer unchanged. */
export type Rewrite = (path: string, body: unknown) => unknown;

export interface HttpMitm {
  readonly url: string;
  /** Answers rewritten so far, by path. */
  readonly rewritten: string[];
  close(): Promise<void>;
}

export async function startHttpMitm(targetPort: number, rewrite: Rewrite): Promise<HttpMitm> {
  const rewritten: string[] = [];
  const server = http.createServer((req, res) => {
    const up = http.request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      const type = String(ur.headers['content-type'] ?? '');
      if (!type.startsWith('application/json')) {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      ur.on('data', (c: Buffer) => chunks.push(c));
      ur.on('end', () => {
        let body = Buffer.concat(chunks);
        const path = (req.url ?? '/').split('?')[0]!;
        const changed = rewrite(path, JSON.parse(body.toString('utf8')));
        if (changed !== undefined) {
          body = Buffer.from(JSON.stringify(changed));
          rewritten.push(path);
        }
        res.writeHead(ur.statusCode ?? 502, { ...ur.headers, 'content-length': String(body.length) });
        res.end(body);
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    rewritten,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}

/** Flip one bit of the byte at `at` (negative: from the end) of a hex string. */
export function flipHexByte(hex: string, at: number): string {
  const i = (at < 0 ? hex.length / 2 + at : at) * 2;
  const b = parseInt(hex.slice(i, i + 2), 16) ^ 0x01;
  return hex.slice(0, i) + b.toString(16).padStart(2, '0') + hex.slice(i + 2);
}
