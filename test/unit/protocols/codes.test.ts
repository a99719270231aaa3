import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ALL_CODES, Codes, errorsMarkdown } from '../../../protocols/codes.js';
import { ALL_REASON_CODES, CodedError, ProofCode, RejectionError, ReasonCode } from '../../../protocols/errors.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

/** The .ts files of the source tree, but not the catalogue itself. */
function sources(): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith(join('protocols', 'codes.ts'))) out.push(p);
    }
  };
  for (const d of ['protocols', 'ledger-node', 'bridge', 'gateway']) walk(join(root, d));
  return out;
}

test('docs/errors.md is the catalogue as errorsMarkdown() renders it', () => {
  const doc = readFileSync(`${root}docs/errors.md`, 'utf8');
  assert.equal(doc, errorsMarkdown(), 'regenerate docs/errors.md with npm run docs:errors');
});

test('every E_ literal of the source tree is in the catalogue, and every catalogue entry is used', () => {
  const used = new Set<string>();
  const unknown: string[] = [];
  for (const f of sources()) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/'(E_[A-Z0-9_]+)'/g)) {
      used.add(m[1]!);
      if (!Object.hasOwn(Codes, m[1]!)) unknown.push(`${f.slice(root.length)}: ${m[1]}`);
    }
    // Keys of tables keyed by code (HttpErrors' default messages).
    for (const m of text.matchAll(/^\s+(E_[A-Z0-9_]+):/gm)) used.add(m[1]!);
  }
  assert.deepEqual(unknown, [], 'add these codes to protocols/codes.ts');
  assert.deepEqual(ALL_CODES.filter((c) => !used.has(c)), [], 'no source uses these catalogue entries: delete them');
});

test('every entry has a one-line meaning, a retry class, and a status only in the HTTP range', () => {
  for (const c of ALL_CODES) {
    const e: { meaning: string; retry: string; http?: number } = Codes[c];
    assert.match(c, /^E_[A-Z0-9_]+$/);
    assert.ok(e.meaning.length > 0 && !e.meaning.includes('\n'), c);
    assert.ok(!e.meaning.includes(c), `${c}: the meaning repeats the code`);
    assert.ok(['final', 'retry', 'fix-input'].includes(e.retry), c);
    if (e.http !== undefined) assert.ok(Number.isInteger(e.http) && e.http >= 400 && e.http <= 599, c);
  }
});

test('the reason and proof code tables are kinds of the catalogue; BUSY and rate limits are the ones to retry', () => {
  for (const c of ALL_REASON_CODES) assert.equal(Codes[c].kind, 'reason', c);
  for (const c of Object.values(ProofCode)) assert.equal(Codes[c].kind, 'proof', c);
  assert.deepEqual(ALL_REASON_CODES.filter((c) => Codes[c].retry === 'retry').sort(), [
    ReasonCode.BILL_NOT_READY, ReasonCode.BILL_PERIOD_OPEN, ReasonCode.BUSY, ReasonCode.RATE_LIMITED,
  ].sort());
  assert.equal(Codes[ReasonCode.BUSY].http, 503);
  assert.equal(Codes[ReasonCode.RATE_LIMITED].http, 429);
  assert.equal(Codes[ReasonCode.SEQ_REPLAY].http, 422);
});

test('a CodedError keeps its code in its own field', () => {
  const e = new RejectionError(ReasonCode.SEQ_REPLAY, 'seq 3 is not above 7', 'seq');
  assert.equal(e.code, 'E_READING_SEQ_REPLAY');
  assert.equal(e.field, 'seq');
  assert.ok(e instanceof CodedError);
});
