import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { configReferenceMarkdown } from '../../../gateway/config.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

test('docs/configuration.md carries the configuration reference as the code defines it', () => {
  const doc = readFileSync(`${root}docs/configuration.md`, 'utf8');
  assert.ok(doc.includes(configReferenceMarkdown().trim()), 'regenerate the table with configReferenceMarkdown()');
});

test('README names every CLI command', async () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const { COMMANDS } = await import('../../../gateway/cli/commands/index.js');
  for (const c of COMMANDS) assert.ok(readme.includes(`meterledger ${c.name}`), `README lacks "meterledger ${c.name}"`);
});

test('no example in README or docs/ puts a secret on a command line (every local user sees those in ps)', () => {
  const files = ['README.md', ...readdirSync(`${root}docs`).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const bad: string[] = [];
  for (const f of files) {
    for (const line of readFileSync(`${root}${f}`, 'utf8').split('\n')) {
      if (/--admin-token(?!-file)\b/.test(line)) bad.push(`${f}: ${line}`); // the flag that took the token itself
      if (/mosquitto_(pub|sub)\b.*\s-P\s/.test(line)) bad.push(`${f}: ${line}`);
      if (/prosodyctl\b.*\bregister\s+\S+\s+\S+\s+\S+/.test(line)) bad.push(`${f}: ${line}`); // register user host password
    }
  }
  assert.deepEqual(bad, []);
});
