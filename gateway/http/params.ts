/** Parsers of path and query parameters; each failure is a 400 naming the parameter. */
import { MAX_SEQ, METER_ID_PATTERN } from '../../protocols/index.js';
import { badParam } from './errors.js';

export function intParam(name: string, raw: string | null | undefined, opts: { min: number; max?: number; dflt?: number }): number {
  if (raw === null || raw === undefined || raw === '') {
    if (opts.dflt !== undefined) return opts.dflt;
    throw badParam(name, 'is required');
  }
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  if (!/^\d{1,16}$/.test(raw) || Number(raw) < opts.min || Number(raw) > max) {
    throw badParam(name, `must be an integer ${opts.min}..${max}`);
  }
  return Number(raw);
}

export function seqParam(name: string, raw: string | null | undefined, opts: { min: bigint; dflt?: bigint }): bigint {
  if (raw === null || raw === undefined || raw === '') {
    if (opts.dflt !== undefined) return opts.dflt;
    throw badParam(name, 'is required');
  }
  if (!/^\d{1,20}$/.test(raw) || BigInt(raw) < opts.min || BigInt(raw) > MAX_SEQ) {
    throw badParam(name, `must be an integer ${opts.min}..2^64-1`);
  }
  return BigInt(raw);
}

export function meterIdParam(raw: string | undefined, name = 'id'): string {
  if (raw === undefined || !METER_ID_PATTERN.test(raw)) throw badParam(name, 'must be a meter id ([A-Za-z0-9][A-Za-z0-9._-]{0,63})');
  return raw;
}
