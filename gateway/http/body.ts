/** Request bodies with a size limit: Content-Length is checked first, then the stream. */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';

export const MAX_BODY_BYTES = 64 * 1024;

export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) return Promise.reject(new HttpError('E_HTTP_BODY_TOO_LARGE'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new HttpError('E_HTTP_BODY_TOO_LARGE'));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

/** A JSON object body; 400 E_HTTP_BAD_BODY when it is not one. */
export async function jsonBody(body: () => Promise<Uint8Array>): Promise<Record<string, unknown>> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(await body()).toString('utf8'));
  } catch (e) {
    if (e instanceof HttpError) throw e;
    throw new HttpError('E_HTTP_BAD_BODY', 'body: must be a JSON object');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError('E_HTTP_BAD_BODY', 'body: must be a JSON object');
  return v as Record<string, unknown>;
}

/** A string field of a JSON body; 400 naming it. */
export function stringField(o: Record<string, unknown>, name: string, pattern?: RegExp): string {
  const v = o[name];
  if (typeof v !== 'string' || (pattern && !pattern.test(v))) throw new HttpError('E_HTTP_BAD_BODY', `${name}: ${typeof v !== 'string' ? 'a string is required' : 'is malformed'}`);
  return v;
}
