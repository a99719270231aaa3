/**
 * ledger-node/consensus and protocols/ take time and randomness only through ports
 * (ledger-node/consensus/ports.ts): no timer, clock or random global in their sources, so
 * the simulation runs the same code on virtual time. Imports are checked by the lint
 * (.dependency-cruiser.cjs); globals are not imports, so this test reads the sources.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url)); // dist/test/unit/consensus -> the repository
const FORBIDDEN = /\b(setTimeout|setInterval|setImmediate|clearTimeout|clearInterval|queueMicrotask)\s*\(|\bperformance\.now\b|\bDate\.now\b|\bMath\.random\b|\bnew Date\(\s*\)|\bprocess\.hrtime\b/;

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

test('no timer, clock or random global in ledger-node/consensus/ or protocols/', () => {
  const files = [...sources('ledger-node/consensus'), ...sources('protocols')];
  assert.ok(files.length > 20, `found ${files.length} source files under ${ROOT}`);
  const found: string[] = [];
  for (const f of files) {
    readFileSync(join(ROOT, f), 'utf8').split('\n').forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, ''); // not in comments
      if (FORBIDDEN.test(code)) found.push(`${f}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(found, []);
});
