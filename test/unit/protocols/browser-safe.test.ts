/**
 * protocols/ runs in browsers (the portal decrypts readings with protocols/confidential):
 * the whole module graph of dist/protocols/index.js, through node_modules, imports no
 * Node built-in, and protocols/ itself uses no Node-only global. The lint step checks
 * protocols/'s own imports; this follows the packages too (@noble/*, cborg), whose
 * exports have no "node" condition, so a bundler resolves the same files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';

const ENTRY = new URL('../../../protocols/index.js', import.meta.url).href;
const SPECIFIER = /(?:^|[\s;}])(?:import|export)\s*(?:[^'"`;]*?\sfrom\s*)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
const BUILTIN = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

function graph(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const todo = [entry];
  while (todo.length) {
    const url = todo.pop()!;
    if (seen.has(url)) continue;
    const src = readFileSync(fileURLToPath(url), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    const specs = [...src.matchAll(SPECIFIER)].map((m) => (m[1] ?? m[2])!);
    seen.set(url, specs);
    // Relative to the importing file; bare names from the root node_modules (the install is flat).
    for (const s of specs) if (!BUILTIN.has(s)) todo.push(s.startsWith('.') ? new URL(s, url).href : import.meta.resolve(s));
  }
  return seen;
}

test('protocols/ module graph, packages included, imports no Node built-in', () => {
  const g = graph(ENTRY);
  const files = [...g.keys()];
  assert.ok(files.some((f) => f.includes('/protocols/confidential/hpke.js')), 'the confidential module is in the graph');
  assert.ok(files.some((f) => f.includes('/node_modules/@noble/ciphers/')), 'noble-ciphers is followed');
  const offending = [...g].flatMap(([f, specs]) => specs.filter((s) => BUILTIN.has(s)).map((s) => `${f} imports ${s}`));
  assert.deepEqual(offending, []);
});

test('protocols/ uses no Node-only global (Buffer, process, require)', () => {
  for (const f of graph(ENTRY).keys()) {
    if (!f.includes('/dist/protocols/')) continue;
    const src = readFileSync(fileURLToPath(f), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    assert.doesNotMatch(src, /\bBuffer\b|\bprocess\.|\brequire\(/, f);
  }
});
