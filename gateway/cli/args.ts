/**
 * Command specs and argument parsing on node:util parseArgs (strict): an unknown flag or a
 * missing value is a UsageError (exit 2) that names the command and points to --help.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { closest } from '../suggest.js';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly help: string;
  /** Placeholder in help: `--meters N`. */
  readonly value?: string;
  readonly short?: string;
  readonly required?: boolean;
  /** May be given more than once (a string flag): its value is then the list. */
  readonly multiple?: boolean;
}

export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  /** The values of repeatable flags (`multiple`), in order. */
  readonly lists?: Readonly<Record<string, readonly string[]>>;
  readonly positionals: readonly string[];
}

export interface CommandSpec {
  /** `start`, `meter token` ... (a public interface: keep the names). */
  readonly name: string;
  readonly summary: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  readonly positionals?: readonly { readonly name: string; readonly help: string }[];
  /** Extra paragraphs for --help. */
  readonly details?: string;
  run(args: ParsedArgs): Promise<number>;
}

/** Flags that were removed, with what to use instead. */
const RETIRED_FLAGS: Readonly<Record<string, string>> = {
  'admin-token': 'a secret on the command line is visible to every local user (ps); put the token in a file (mode 0600) ' +
    'and pass --admin-token-file F, or set METERLEDGER_HTTP_ADMIN_TOKEN or METERLEDGER_HTTP_ADMIN_TOKEN_FILE',
};

/** Flags every command takes. */
export const COMMON_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  help: { type: 'boolean', short: 'h', help: 'show this help' },
  debug: { type: 'boolean', help: 'print stack traces of errors' },
};

export function helpText(spec: CommandSpec): string {
  const opts = { ...spec.options, ...COMMON_OPTIONS };
  const flag = (n: string, o: OptionSpec): string => `--${n}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
  const usage = [
    `meterledger ${spec.name}`,
    ...(spec.positionals ?? []).map((p) => p.name),
    ...Object.entries(spec.options).map(([n, o]) => (o.required ? flag(n, o) : `[${flag(n, o)}]`)),
  ].join(' ');
  const width = Math.max(...Object.entries(opts).map(([n, o]) => flag(n, o).length), ...(spec.positionals ?? []).map((p) => p.name.length)) + 2;
  const lines = [`usage: ${usage}`, '', spec.summary, ''];
  for (const p of spec.positionals ?? []) lines.push(`  ${p.name.padEnd(width)}${p.help}`);
  for (const [n, o] of Object.entries(opts)) {
    lines.push(`  ${flag(n, o).padEnd(width)}${o.help}${o.required ? ' (required)' : ''}${o.multiple ? ' (repeatable)' : ''}`);
  }
  if (spec.details) lines.push('', spec.details);
  return lines.join('\n') + '\n';
}

/** Parse `argv` (after the command words) against the spec. `--help` skips required checks. */
export function parseCommandArgs(spec: CommandSpec, argv: string[]): ParsedArgs & { help: boolean } {
  const all = { ...spec.options, ...COMMON_OPTIONS };
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [n, o] of Object.entries(all)) options[n] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    const flag = /^Unknown option '--([^']+)'/.exec(msg)?.[1];
    const retired = flag !== undefined ? RETIRED_FLAGS[flag] : undefined;
    if (retired) throw new UsageError(`--${flag} is not accepted: ${retired} (see meterledger ${spec.name} --help)`);
    const near = flag !== undefined ? closest(flag, Object.keys(all)) : undefined;
    throw new UsageError(`${msg}${near ? `; did you mean --${near}?` : ''} (see meterledger ${spec.name} --help)`);
  }
  const values: Record<string, string | boolean | undefined> = {};
  const lists: Record<string, string[]> = {};
  for (const [n, v] of Object.entries(parsed.values as Record<string, string | boolean | string[] | undefined>)) {
    if (Array.isArray(v)) lists[n] = v;
    else values[n] = v;
  }
  const help = values.help === true;
  const maxPos = spec.positionals?.length ?? 0;
  if (!help) {
    if (parsed.positionals.length > maxPos) {
      throw new UsageError(`unexpected argument "${parsed.positionals[maxPos]}" (see meterledger ${spec.name} --help)`);
    }
    if (parsed.positionals.length < maxPos) {
      throw new UsageError(`missing ${spec.positionals![parsed.positionals.length]!.name} (see meterledger ${spec.name} --help)`);
    }
    for (const [n, o] of Object.entries(spec.options)) {
      const missing = o.multiple ? (lists[n]?.length ?? 0) === 0 : values[n] === undefined || values[n] === '';
      if (o.required && missing) throw new UsageError(`missing --${n} (see meterledger ${spec.name} --help)`);
    }
  }
  return { values, lists, positionals: parsed.positionals, help };
}

/** A required string flag, or a UsageError naming it. */
export function need(args: ParsedArgs, flag: string, command: string): string {
  const v = args.values[flag];
  if (typeof v !== 'string' || v === '') throw new UsageError(`missing --${flag} (see meterledger ${command} --help)`);
  return v;
}

export function optionalString(args: ParsedArgs, flag: string): string | undefined {
  const v = args.values[flag];
  return typeof v === 'string' ? v : undefined;
}

/** Every value of a repeatable string flag, in order (none: an empty list). */
export function stringList(args: ParsedArgs, flag: string): readonly string[] {
  return args.lists?.[flag] ?? [];
}

/** An integer flag within bounds, or a UsageError naming it. */
export function intFlag(args: ParsedArgs, flag: string, command: string, min: number, max: number, dflt?: number): number | undefined {
  const v = args.values[flag];
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new UsageError(`--${flag} must be an integer ${min}..${max} (see meterledger ${command} --help)`);
  }
  return Number(v);
}

export const out = (line: string): void => {
  process.stdout.write(line + '\n');
};
export const err = (line: string): void => {
  process.stderr.write(line + '\n');
};
