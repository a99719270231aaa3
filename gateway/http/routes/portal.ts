/**
 * The portal's static files (built by gateway/portal/build.ts into dist/portal/), from
 * memory. Assets are named by the hash of their content and cached for a year; the page
 * itself is revalidated (ETag) so a new build is seen at once. Every page carries a strict
 * Content-Security-Policy: scripts and styles only from these files, no inline script,
 * requests only to this gateway (edge boxes are often offline: nothing outside is used).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { HttpError } from '../errors.js';
import type { HttpReply, HttpRequest, Route } from '../router.js';

/** What the build writes next to the files (gateway/portal/build.ts). */
export interface PortalManifest {
  /** The page, served for every portal path. */
  readonly page: { readonly file: string; readonly etag: string };
  /** Hash-named assets: file name -> content type. */
  readonly assets: Readonly<Record<string, string>>;
}

export const PORTAL_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': PORTAL_CSP,
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

/** The portal's pages: one document, the script picks the view from the path. */
export const PORTAL_PAGES = ['/portal/', '/portal/meter', '/portal/receipt', '/portal/fleet',
  '/portal/enrol', '/portal/mandates', '/portal/disputes', '/portal/bills', '/portal/payments'] as const;

interface Loaded {
  readonly page: Uint8Array;
  readonly etag: string;
  readonly assets: ReadonlyMap<string, { body: Uint8Array; type: string }>;
}

const DIST_PORTAL = fileURLToPath(new URL('../../../portal/', import.meta.url));
let loaded: Loaded | null | undefined;

/** Read the built portal once; null when it was not built. */
function load(dir = DIST_PORTAL): Loaded | null {
  if (loaded !== undefined) return loaded;
  try {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as PortalManifest;
    const assets = new Map(Object.entries(m.assets).map(([f, type]) => [f, { body: readFileSync(join(dir, 'assets', f)), type }]));
    loaded = { page: readFileSync(join(dir, m.page.file)), etag: m.page.etag, assets };
  } catch {
    loaded = null;
  }
  return loaded;
}

function portal(): Loaded {
  const p = load();
  if (!p) throw new HttpError('E_PORTAL_NOT_BUILT');
  return p;
}

async function page(req: HttpRequest): Promise<HttpReply> {
  const p = portal();
  const etag = `"${p.etag}"`;
  const headers = { ...SECURITY_HEADERS, 'cache-control': 'no-cache', etag };
  if (req.headers['if-none-match'] === etag) return { status: 304, body: '', contentType: 'text/html; charset=utf-8', headers };
  return { status: 200, body: p.page, contentType: 'text/html; charset=utf-8', headers };
}

export const portalRoutes: Route[] = [
  { method: 'GET', path: '/portal', handler: async () => ({ status: 301, body: '', contentType: 'text/plain', headers: { location: '/portal/' } }) },
  ...PORTAL_PAGES.map((path): Route => ({ method: 'GET', path, handler: page })),
  {
    method: 'GET', path: '/portal/assets/:file',
    handler: async (req) => {
      const a = portal().assets.get(req.params.file ?? '');
      if (!a) throw new HttpError('E_HTTP_NOT_FOUND', `no portal asset ${req.params.file}`);
      return { status: 200, body: a.body, contentType: a.type, headers: { ...SECURITY_HEADERS, 'cache-control': 'public, max-age=31536000, immutable' } };
    },
  },
];
