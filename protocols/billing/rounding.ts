/**
 * Exact integer arithmetic of the bill engine (docs/billing.md §7): BigInt division with
 * a stated rounding direction, round-half-to-even to minor units, exact fractions for
 * standing-charge days, and the 2^53-1 bound every figure of a bill must respect.
 */
import { ReasonCode, RejectionError } from '../errors.js';

/** Largest magnitude of any energy, amount or total in a bill: 2^53 - 1. */
export const MAX_BILL_INTEGER = BigInt(Number.MAX_SAFE_INTEGER);

/** floor(a / b) for b > 0 (BigInt `/` truncates toward zero). */
export function floorDiv(a: bigint, b: bigint): bigint {
  if (b <= 0n) throw new RangeError('floorDiv: divisor must be positive');
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

/**
 * num / den rounded to the nearest integer, ties to the even neighbour (IEEE 754
 * roundTiesToEven, "banker's rounding"), for den > 0. Symmetric: f(-x) = -f(x).
 */
export function roundHalfEven(num: bigint, den: bigint): bigint {
  const q = floorDiv(num, den);
  const twice = 2n * (num - q * den); // 0 <= r < den, compare 2r with den
  if (twice > den) return q + 1n;
  if (twice < den) return q;
  return q % 2n === 0n ? q : q + 1n;
}

/** 10^n as a BigInt. */
export const pow10 = (n: number): bigint => 10n ** BigInt(n);

/** Greatest common divisor of non-negative integers. */
function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** A non-negative exact fraction in lowest terms (den >= 1). */
export interface Fraction {
  readonly num: bigint;
  readonly den: bigint;
}

export const ZERO_FRACTION: Fraction = { num: 0n, den: 1n };

export function fraction(num: bigint, den: bigint): Fraction {
  if (den <= 0n || num < 0n) throw new RangeError('fraction: num >= 0 and den > 0 required');
  const g = gcd(num, den);
  return g > 1n ? { num: num / g, den: den / g } : { num, den };
}

export function addFractions(a: Fraction, b: Fraction): Fraction {
  if (a.den === b.den) return fraction(a.num + b.num, a.den);
  return fraction(a.num * b.den + b.num * a.den, a.den * b.den);
}

/** "31", or "45/2": the text form of a fraction in JSON. */
export function fractionText(f: Fraction): string {
  return f.den === 1n ? f.num.toString() : `${f.num}/${f.den}`;
}

/** The inverse of fractionText; undefined unless the text is in lowest terms with den > 1 or an integer. */
export function parseFractionText(s: string): Fraction | undefined {
  const m = /^(0|[1-9]\d*)(?:\/([1-9]\d*))?$/.exec(s);
  if (!m) return undefined;
  const num = BigInt(m[1]!);
  const den = m[2] === undefined ? 1n : BigInt(m[2]);
  if (m[2] !== undefined && den === 1n) return undefined;
  const f = fraction(num, den);
  return f.num === num && f.den === den ? f : undefined;
}

/** The value as a safe integer, or E_BILL_OVERFLOW naming what it is. */
export function safeInteger(v: bigint, what: string): number {
  if (v > MAX_BILL_INTEGER || v < -MAX_BILL_INTEGER) {
    throw new RejectionError(ReasonCode.BILL_OVERFLOW, `${what} is ${v}, beyond ±(2^53-1)`, what);
  }
  return Number(v);
}

/** An amount in minor units as a decimal string of the currency: (1234, 2) -> "12.34", (-5, 2) -> "-0.05". */
export function formatMinorUnits(amount: number, minorUnits: number): string {
  const neg = amount < 0;
  const digits = Math.abs(amount).toString().padStart(minorUnits + 1, '0');
  const whole = digits.slice(0, digits.length - minorUnits);
  const frac = minorUnits > 0 ? `.${digits.slice(digits.length - minorUnits)}` : '';
  return `${neg ? '-' : ''}${whole}${frac}`;
}
