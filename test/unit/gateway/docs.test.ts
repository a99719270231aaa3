import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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
