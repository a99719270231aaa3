/**
 * `meterledger receipt verify --set-changes F` as users run it (the bin, spawned): the
 * receipt of height 7 of test/vectors/validator-set.json verifies from genesis with the
 * chain of set changes and names the set it was checked against; without the changes, or
 * with one left out, it fails with exit code 1 and E_RECEIPT_INVALID (docs/protocol.md §13.5).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readVector } from '../../vectors/generate.js';

const MAIN = fileURLToPath(new URL('../../../gateway/cli/main.js', import.meta.url));
interface Vec { genesis: unknown; receipt: string; setChanges: string; refused: { name: string; receipt: string; setChanges: string }[] }
const vec = readVector<Vec>('validator-set.json');

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 20_000, env: { PATH: process.env.PATH ?? '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

let dir: string;
const file = (name: string, hex: string): string => {
  const f = join(dir, name);
  writeFileSync(f, Buffer.from(hex, 'hex'));
  return f;
};
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ml-valset-'));
  writeFileSync(join(dir, 'genesis.json'), JSON.stringify(vec.genesis));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('receipt verify --set-changes: a receipt after three set changes verifies from genesis; alone or with a change left out it fails', { timeout: 60_000 }, async () => {
  const g = join(dir, 'genesis.json');
  const receipt = file('r.cbor', vec.receipt);
  const ok = await cli(['receipt', 'verify', receipt, '--genesis', g, '--set-changes', file('changes.cbor', vec.setChanges)]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /height: +7/);
  assert.match(ok.stdout, /certified: by the validator set of height 7 \(val-2, val-3, val-4, val-5\)/);
  const alone = await cli(['receipt', 'verify', receipt, '--genesis', g]);
  assert.equal(alone.code, 1);
  assert.match(alone.stderr, /E_RECEIPT_INVALID: commit certificate: commit signed by unknown validator "val-5"/);
  const leftOut = vec.refused.find((c) => c.name.startsWith('change 3 left out'))!;
  const short = await cli(['receipt', 'verify', file('r2.cbor', leftOut.receipt), '--genesis', g, '--set-changes', file('short.cbor', leftOut.setChanges)]);
  assert.equal(short.code, 1);
  assert.match(short.stderr, /E_RECEIPT_INVALID: commit certificate: commit has 3 of 5 voting power/);
});
