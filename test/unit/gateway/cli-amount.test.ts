/** Amounts on the billing command line (docs/billing.md §2): text to minor units, no floats, never rounded. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAmount, parseAmount } from '../../../gateway/cli/billing-common.js';

test('amounts: digits are minor units, a decimal is units of the currency', () => {
  assert.equal(parseAmount('1234', 2), 1234n);
  assert.equal(parseAmount('12.34', 2), 1234n);
  assert.equal(parseAmount('12.3', 2), 1230n);
  assert.equal(parseAmount('0.01', 2), 1n);
  assert.equal(parseAmount('5', 0), 5n);
  assert.equal(parseAmount('1.005', 3), 1005n);
  // Exact beyond 2^53: no float on the path.
  assert.equal(parseAmount('92233720368547758.07', 2), 2n ** 63n - 1n);
  assert.equal(parseAmount('9007199254740993', 2), 9007199254740993n);
});

test('amounts: more decimals than the currency has, signs, exponents, zero and overflow are E_AMOUNT_INVALID', () => {
  for (const [text, mu] of [['12.345', 2], ['1.5', 0], ['-5', 2], ['+5', 2], ['1e3', 2], ['1 000', 2], ['1,5', 2], ['.5', 2], ['5.', 2], ['0', 2], ['0.00', 2], ['92233720368547758.08', 2], ['', 2]] as const) {
    assert.throws(() => parseAmount(text, mu), (e: Error & { code?: string }) => e.code === 'E_AMOUNT_INVALID', `${text} (${mu})`);
  }
});

test('amounts print as a decimal of the currency', () => {
  assert.equal(formatAmount(1234n, { code: 'EUR', minorUnits: 2 }), '12.34 EUR');
  assert.equal(formatAmount('5', { code: 'EUR', minorUnits: 2 }), '0.05 EUR');
  assert.equal(formatAmount(-7n, { code: 'EUR', minorUnits: 2 }), '-0.07 EUR');
  assert.equal(formatAmount(1500n, { code: 'JPY', minorUnits: 0 }), '1500 JPY');
  assert.equal(formatAmount(1n, undefined), '1 minor units');
});
