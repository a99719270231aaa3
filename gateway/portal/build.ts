/**
 * Build the portal (`npm run build` runs it after tsc): bundle gateway/portal/app/main.ts
 * with esbuild (protocols/, noble and cborg, uPlot included: nothing is fetched at run
 * time), then write dist/portal/ with every asset named by the hash of its content, the
 * page pointing at those names, and manifest.json for the HTTP route to load.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { PortalManifest } from '../http/routes/portal.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SRC = join(ROOT, 'gateway/portal/app');
const OUT = join(ROOT, 'dist/portal');

const hash = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex').slice(0, 16);

async function main(): Promise<void> {
  const r = await build({
    entryPoints: [join(SRC, 'main.ts')],
    bundle: true, write: false, format: 'esm', platform: 'browser', target: ['es2022'],
    minify: true, sourcemap: false, legalComments: 'eof', outdir: 'out',
    // uPlot's stylesheet is imported by chart.ts and comes out as main.css.
    loader: { '.css': 'css' },
    logLevel: 'warning',
  });
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(join(OUT, 'assets'), { recursive: true });
  const assets: Record<string, string> = {};
  const names: Record<string, string> = {};
  const put = (base: string, ext: string, type: string, body: Uint8Array): void => {
    const name = `${base}.${hash(body)}.${ext}`;
    writeFileSync(join(OUT, 'assets', name), body);
    assets[name] = type;
    names[ext] = name;
  };
  for (const f of r.outputFiles) {
    if (f.path.endsWith('.js')) put('portal', 'js', 'text/javascript; charset=utf-8', f.contents);
    else if (f.path.endsWith('.css')) put('chart', 'css', 'text/css; charset=utf-8', f.contents);
  }
  put('portal', 'css', 'text/css; charset=utf-8', readFileSync(join(SRC, 'portal.css')));
  // The stylesheets' names collide on the "css" key: keep both explicitly.
  const chartCss = Object.keys(assets).find((n) => n.startsWith('chart.'));
  const portalCss = Object.keys(assets).find((n) => n.startsWith('portal.') && n.endsWith('.css'));
  const jsName = Object.keys(assets).find((n) => n.endsWith('.js'));
  if (!jsName || !portalCss) throw new Error('portal build: missing script or stylesheet');
  const page = readFileSync(join(SRC, 'index.html'), 'utf8')
    .replace('{{SCRIPT}}', `/portal/assets/${jsName}`)
    .replace('{{STYLES}}', [chartCss, portalCss].filter(Boolean).map((n) => `<link rel="stylesheet" href="/portal/assets/${n}">`).join('\n  '));
  if (/\{\{/.test(page)) throw new Error('portal build: index.html has an unfilled placeholder');
  const pageBytes = new TextEncoder().encode(page);
  writeFileSync(join(OUT, 'index.html'), pageBytes);
  const manifest: PortalManifest = { page: { file: 'index.html', etag: hash(pageBytes) }, assets };
  writeFileSync(join(OUT, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  const size = Object.keys(assets).map((n) => `${n} ${readFileSync(join(OUT, 'assets', n)).length} B`).join(', ');
  process.stdout.write(`portal: ${size}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`portal build failed: ${(e as Error).message}\n`);
  process.exit(1);
});
