/**
 * The unit suite is pure or in-memory (issue 11 §6): test/helpers/unit-guard.ts, which
 * `npm run test:unit` loads into every test process, refuses sockets, processes, LevelDB
 * and writes outside the temp dir. Here: it is loaded by that script, and it refuses each.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { UNIT_IO_CODE } from '../../helpers/unit-guard.js';

const refused = { code: UNIT_IO_CODE };

test('npm run test:unit loads the guard into every test process', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts['test:unit']!, /--import \.\/dist\/test\/helpers\/unit-guard\.js .*dist\/test\/unit\//);
});

test('a socket, a child process or a LevelDB store is refused (E_UNIT_TEST_IO)', async () => {
  assert.throws(() => createServer().listen(0, '127.0.0.1'), refused);
  assert.throws(() => connect(1, '127.0.0.1'), refused);
  assert.throws(() => execFile('true'), refused);
  const { ClassicLevel } = await import('classic-level');
  const dir = mkdtempSync(join(tmpdir(), 'ml-guard-'));
  try {
    await assert.rejects(new ClassicLevel(join(dir, 'db')).open(), (e: Error & { cause?: { code?: string } }) =>
      e.cause?.code === UNIT_IO_CODE || (e as { code?: string }).code === UNIT_IO_CODE);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('files are written below the temp dir only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ml-guard-'));
  try {
    writeFileSync(join(dir, 'ok'), 'x');
    await writeFile(join(dir, 'ok2'), 'x');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Beside the temp dir, not in the repository: a clone may itself live below the temp dir (CI's does).
  const outside = join(dirname(resolve(tmpdir())), `ml-guard-was-here-${process.pid}`);
  assert.throws(() => writeFileSync(outside, 'x'), refused);
  await assert.rejects(async () => writeFile(outside, 'x'), refused);
});
