/**
 * The machinery under gateway/config.ts: value kinds, settings and sections, and one
 * resolver that reads the file, the environment and the flags against a schema. A schema
 * states each setting once (kind, default, environment variable, flag, meaning); the type
 * of the configuration, its parsing, the per-section checks, the reference table and
 * `meterledger config show` all come from it, so adding a setting is one entry.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { privateFileProblem } from '../ledger-node/keyfile.js';
import { fsError, fsReason } from '../ledger-node/fs-errors.js';
import { redactUrls } from '../ledger-node/p2p/redact.js';
import { ConfigError, GatewayError } from './errors.js';
import { closest } from './suggest.js';

/** One value as found, before it is checked. */
export interface Setting {
  readonly value: unknown;
  /** Where it came from, for messages: `--mqtt-port`, `METERLEDGER_MQTT_PORT` or the file's path. */
  readonly source: string;
  readonly from: 'file' | 'env' | 'flag';
  /** Strings from env and flags are parsed; values from the file must have their JSON type. */
  readonly text: boolean;
  /** Folder that relative paths resolve against. */
  readonly base: string;
}

/** How to check and convert one value. `bad(why)` is the error naming field and source. */
export interface Kind<T> {
  parse(v: unknown, s: Setting, bad: (why: string) => ConfigError, field: string): T;
  /** Never shown: not in errors, not in `config show`. */
  readonly secret?: boolean;
  /** Shown with its secret parts hidden (a password inside a URL), in errors and `config show`. */
  readonly redact?: (text: string) => string;
  /** A file the gateway reads; a 'private' one holds a secret and must be private to its owner. */
  readonly file?: 'read' | 'private';
}

interface FieldText {
  readonly env?: string;
  /** Long flag of `meterledger start` (and `config show|check`), without the dashes. */
  readonly flag?: string;
  readonly meaning: string;
  /** How the reference shows the default, when not the value itself (a computed default). */
  readonly shown?: string;
}

export interface Field<T, Opt extends boolean> {
  readonly node: 'field';
  readonly kind: Kind<T>;
  readonly text: FieldText;
  readonly dflt: T | (() => T) | undefined;
  /** Must be set (in an optional section: once the section is used). */
  readonly required: boolean;
  /** Type-level only: absent from the built configuration when unset. */
  readonly optional: Opt;
}

type AnyField = Field<any, boolean>;
type AnySection = Section<any, any, boolean>;
export type Shape = { readonly [name: string]: AnyField | AnySection };

/** What a section's `finish` may ask: which of its settings were given (not defaulted). */
export interface SectionContext {
  /** Dotted path of the section (`xmpp.reconnect`); '' for the root. */
  readonly path: string;
  /** Full paths of the settings given under this section, in schema order. */
  readonly given: readonly string[];
  /** Was this setting (name relative to the section) given? */
  isGiven(name: string): boolean;
}

export interface Section<S extends Shape, Out, Opt extends boolean> {
  readonly node: 'section';
  readonly shape: S;
  /** Present only when one of its settings is given. */
  readonly optional: Opt;
  /** Cross-field rules of the section and its final shape. */
  readonly finish: ((v: ValuesOf<S>, ctx: SectionContext) => Out) | undefined;
}

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K]['optional'] extends true ? K : never }[keyof S];
type OutOf<N> = N extends Field<infer T, boolean> ? T : N extends Section<any, infer O, any> ? O : never;
/** The built values of a shape: settings without a default are optional properties. */
export type ValuesOf<S extends Shape> = Simplify<
  { readonly [K in Exclude<keyof S, OptionalKeys<S>>]: OutOf<S[K]> } & { readonly [K in OptionalKeys<S>]?: OutOf<S[K]> }
>;
export type ConfigOf<R> = R extends Section<any, infer O, any> ? O : never;

export function setting<T>(kind: Kind<T>, o: FieldText & { default: NoInfer<T> | (() => NoInfer<T>) }): Field<T, false>;
export function setting<T>(kind: Kind<T>, o: FieldText & { required: true }): Field<T, false>;
export function setting<T>(kind: Kind<T>, o: FieldText): Field<T, true>;
export function setting<T>(kind: Kind<T>, o: FieldText & { default?: T | (() => T); required?: true }): Field<T, boolean> {
  const { default: dflt, required, ...text } = o;
  return { node: 'field', kind, text, dflt, required: required === true, optional: dflt === undefined && required !== true };
}

export function section<S extends Shape>(shape: S): Section<S, ValuesOf<S>, false>;
export function section<S extends Shape, O>(shape: S, o: { finish: (v: ValuesOf<S>, ctx: SectionContext) => O }): Section<S, O, false>;
export function section<S extends Shape, O>(shape: S, o?: { finish: (v: ValuesOf<S>, ctx: SectionContext) => O }): Section<S, O, false> {
  return { node: 'section', shape, optional: false, finish: o?.finish };
}

/** A section that exists only when one of its settings is given; then its required ones must be. */
export function optionalSection<S extends Shape>(shape: S): Section<S, ValuesOf<S>, true>;
export function optionalSection<S extends Shape, O>(shape: S, o: { finish: (v: ValuesOf<S>, ctx: SectionContext) => O }): Section<S, O, true>;
export function optionalSection<S extends Shape, O>(shape: S, o?: { finish: (v: ValuesOf<S>, ctx: SectionContext) => O }): Section<S, O, true> {
  return { node: 'section', shape, optional: true, finish: o?.finish };
}

// ---- kinds -----------------------------------------------------------------------------

export const int = (min: number, max = Number.MAX_SAFE_INTEGER): Kind<number> => ({
  parse(v, s, bad) {
    const n = s.text && typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) throw bad(`must be an integer ${min}..${max}`);
    return n;
  },
});

export const bool: Kind<boolean> = {
  parse(v, s, bad) {
    if (typeof v === 'boolean') return v;
    if (s.text && typeof v === 'string') {
      const t = v.trim().toLowerCase();
      if (t === 'true' || t === '1' || t === 'yes') return true;
      if (t === 'false' || t === '0' || t === 'no') return false;
    }
    throw bad('must be true or false');
  },
};

export const oneOf = <T extends string>(values: readonly T[]): Kind<T> => ({
  parse(v, _s, bad) {
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw bad(`must be one of ${values.join(', ')}`);
    return v as T;
  },
});

export const host: Kind<string> = {
  parse(v, _s, bad) {
    if (typeof v !== 'string' || !/^[A-Za-z0-9.:_-]{1,253}$/.test(v)) throw bad('must be a host name or IP address');
    return v;
  },
};

/** A path, resolved against the file's folder (or the working directory for env and flags). */
export const path = (file?: 'read' | 'private'): Kind<string> => ({
  ...(file ? { file } : {}),
  parse(v, s, bad) {
    if (typeof v !== 'string' || v.length === 0) throw bad('must be a non-empty path');
    return resolve(s.base, v);
  },
});

export const secret = (minLength: number): Kind<string> => ({
  secret: true,
  parse(v, _s, bad) {
    if (typeof v !== 'string' || v.length < minLength) throw bad(`must be a string of at least ${minLength} characters`);
    return v;
  },
});

export const text = (pattern: RegExp, what: string): Kind<string> => ({
  parse(v, _s, bad) {
    if (typeof v !== 'string' || !pattern.test(v)) throw bad(`must be ${what}`);
    return v;
  },
});

const asUrl = (v: unknown): URL | undefined => {
  try {
    return typeof v === 'string' ? new URL(v) : undefined;
  } catch {
    return undefined;
  }
};

/** `scheme://host[:port]` with no credentials, path or query; normalised. */
export const url = (schemes: readonly string[]): Kind<string> => ({
  parse(v, _s, bad) {
    const u = asUrl(v);
    if (!u || !schemes.includes(u.protocol.slice(0, -1)) || !u.hostname || u.username || u.password || (u.pathname !== '' && u.pathname !== '/') || u.search || u.hash) {
      throw bad(`must be a URL ${schemes.map((x) => `${x}://`).join(' or ')}host[:port]`);
    }
    return `${u.protocol}//${u.host}`;
  },
});

/** A list of URLs (comma-separated in env and flags); credentials in them are never shown. */
export const urls = (schemes: readonly string[]): Kind<string[]> => ({
  redact: redactUrls,
  parse(v, s, bad) {
    const list = s.text && typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean) : v;
    const shown = schemes.map((x) => `${x}://`).join(' or ');
    if (!Array.isArray(list) || list.length === 0) throw bad(`must be a list of ${shown}host:port URLs`);
    return list.map((u) => {
      const p = asUrl(u);
      if (!p || !schemes.includes(p.protocol.slice(0, -1)) || !p.hostname) throw bad(`each must be a URL ${shown}host:port`);
      return u as string;
    });
  },
});

// ---- the schema as a list --------------------------------------------------------------

export interface FieldInfo {
  /** Dotted path in the JSON file and in the configuration. */
  readonly field: string;
  readonly setting: AnyField;
}

function flatten(s: AnySection, prefix: string, out: FieldInfo[], groups: Set<string>): void {
  for (const [name, n] of Object.entries(s.shape as Shape)) {
    const p = prefix ? `${prefix}.${name}` : name;
    if (n.node === 'field') out.push({ field: p, setting: n });
    else {
      groups.add(p);
      flatten(n, p, out, groups);
    }
  }
}

/** One row of the reference (docs/configuration.md). */
export interface ConfigRow {
  readonly field: string;
  readonly env?: string;
  readonly flag?: string;
  /** The default, as docs show it. */
  readonly default: string;
  readonly meaning: string;
  readonly secret: boolean;
  /** Hides the secret parts of a shown value (credentials in a URL). */
  readonly redact?: (text: string) => string;
}

export function showValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Where an effective value came from. */
export type ValueSource = { readonly from: 'default' } | { readonly from: 'file' | 'env' | 'flag'; readonly where: string };

export interface LoadInput {
  /** Parsed flags by long name without dashes (`mqtt-port`); `config` names the file. */
  readonly flags?: Readonly<Record<string, string | boolean | undefined>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A config file to read; else `flags.config`, the file variable or `<dataDir>/config.json` if present. */
  readonly file?: string;
  /** Base for relative paths from flags and env. Default process.cwd(). */
  readonly cwd?: string;
}

export interface Loaded<C> {
  readonly config: C;
  /** The file read, if any. */
  readonly file: string | undefined;
  /** Every setting of the schema: its effective value (undefined: unset) and its source. */
  readonly values: ReadonlyMap<string, { readonly value: unknown; readonly source: ValueSource }>;
}

export interface SchemaOptions {
  /** The variable naming the config file (METERLEDGER_CONFIG). */
  readonly fileEnv: string;
  /** Prefix of the variables that belong to us: an unknown one is an error. */
  readonly envPrefix: string;
  /** Variables with the prefix that are not settings (read by CLI clients), with what each is. */
  readonly otherEnv: Readonly<Record<string, string>>;
  /** The data-dir setting: `<dataDir>/config.json` is read when no file is named. */
  readonly dataDirField: string;
}

export class ConfigSchema<C> {
  readonly fields: readonly FieldInfo[];
  private readonly groups: ReadonlySet<string>;
  private readonly byPath: ReadonlyMap<string, AnyField>;

  constructor(private readonly root: Section<any, C, false>, readonly options: SchemaOptions) {
    const fields: FieldInfo[] = [];
    const groups = new Set<string>();
    flatten(root, '', fields, groups);
    this.fields = fields;
    this.groups = groups;
    this.byPath = new Map(fields.map((f) => [f.field, f.setting]));
    const envs = fields.flatMap((f) => (f.setting.text.env ? [f.setting.text.env] : []));
    if (new Set(envs).size !== envs.length) throw new Error('config schema: an environment variable is used twice');
  }

  /** Every setting as the reference lists it. */
  rows(): ConfigRow[] {
    return this.fields.map(({ field, setting: s }) => ({
      field,
      ...(s.text.env ? { env: s.text.env } : {}),
      ...(s.text.flag ? { flag: s.text.flag } : {}),
      default: s.text.shown ?? (s.dflt !== undefined && typeof s.dflt !== 'function' ? showValue(s.dflt)
        : s.required ? (this.inOptionalSection(field) ? '(off)' : '(required)') : '(none)'),
      meaning: s.text.meaning,
      secret: s.kind.secret === true,
      ...(s.kind.redact ? { redact: s.kind.redact } : {}),
    }));
  }

  private inOptionalSection(field: string): boolean {
    let s: AnySection = this.root;
    for (const part of field.split('.').slice(0, -1)) {
      s = s.shape[part] as AnySection;
      if (s.optional) return true;
    }
    return false;
  }

  /** Settings with a file kind and their effective paths. */
  files(values: Loaded<C>['values']): { field: string; path: string; kind: 'read' | 'private' }[] {
    return this.fields.flatMap(({ field, setting: s }) => {
      const v = values.get(field)?.value;
      return s.kind.file && typeof v === 'string' ? [{ field, path: v, kind: s.kind.file }] : [];
    });
  }

  load(input: LoadInput = {}): Loaded<C> {
    const flags = input.flags ?? {};
    const env = input.env ?? {};
    const cwd = input.cwd ?? process.cwd();
    this.checkEnvNames(env);

    const fromEnv = new Map<string, Setting>();
    const fromFlags = new Map<string, Setting>();
    for (const { field, setting: s } of this.fields) {
      const e = s.text.env === undefined ? undefined : env[s.text.env];
      if (e !== undefined && e !== '') fromEnv.set(field, { value: e, source: s.text.env!, from: 'env', text: true, base: cwd });
      const f = s.text.flag === undefined ? undefined : flags[s.text.flag];
      if (f !== undefined) fromFlags.set(field, { value: f, source: `--${s.text.flag}`, from: 'flag', text: true, base: cwd });
    }

    // Which file: named, else <dataDir>/config.json when the data dir is known and has one.
    const named = input.file ?? (typeof flags.config === 'string' ? flags.config : undefined) ?? env[this.options.fileEnv];
    let file: string | undefined;
    if (named) file = resolve(cwd, named);
    else {
      const dd = fromFlags.get(this.options.dataDirField) ?? fromEnv.get(this.options.dataDirField);
      if (dd && typeof dd.value === 'string') {
        const candidate = join(resolve(cwd, dd.value), 'config.json');
        if (fileExists(candidate)) file = candidate;
      }
    }
    const settings = new Map<string, Setting>(file ? this.readFile(file) : []);
    for (const [k, s] of fromEnv) settings.set(k, s);
    for (const [k, s] of fromFlags) settings.set(k, s);

    const parsed = new Map<string, unknown>();
    for (const [field, s] of settings) {
      const f = this.byPath.get(field)!;
      const got = f.kind.secret ? '' : `got ${(f.kind.redact ?? ((x: string) => x))(JSON.stringify(s.value) ?? String(s.value))} `;
      const bad = (why: string): ConfigError => new ConfigError(field, `${why} (${got}from ${s.source})`);
      parsed.set(field, f.kind.parse(s.value, s, bad, field));
    }
    const values = new Map<string, { value: unknown; source: ValueSource }>();
    const config = build(this.root, '', parsed, this.fields, (field, value, given) => {
      const s = settings.get(field);
      values.set(field, { value, source: given && s ? { from: s.from, where: s.source } : { from: 'default' } });
    }) as C;
    // Show what the gateway uses: a section's finish may have settled a value (or moved it).
    for (const { field } of this.fields) {
      const built = valueAt(config, field);
      const v = values.get(field);
      values.set(field, { value: built !== undefined && typeof built !== 'object' ? built : v?.value, source: v?.source ?? { from: 'default' } });
    }
    return { config, file, values };
  }

  /** An unknown METERLEDGER_* variable is an error, like an unknown field in the file. */
  private checkEnvNames(env: Readonly<Record<string, string | undefined>>): void {
    const known = [this.options.fileEnv, ...Object.keys(this.options.otherEnv), ...this.fields.flatMap((f) => (f.setting.text.env ? [f.setting.text.env] : []))];
    for (const name of Object.keys(env)) {
      if (!name.startsWith(this.options.envPrefix) || known.includes(name)) continue;
      const near = closest(name, known);
      throw new ConfigError(name, `unknown environment variable${near ? `; did you mean ${near}?` : ''} (every setting and its variable: docs/configuration.md)`);
    }
  }

  private readFile(path: string): Map<string, Setting> {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (cause) {
      throw new ConfigError('config', `cannot read ${path}: ${fsReason(cause)}`, { cause });
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (cause) {
      throw new ConfigError('config', `${path} is not JSON: ${(cause as Error).message}`, { cause });
    }
    const out = new Map<string, Setting>();
    const base = dirname(path);
    const walk = (o: unknown, prefix: string): void => {
      if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new ConfigError(prefix || '(file)', `must be an object (in ${path})`);
      for (const [k, v] of Object.entries(o)) {
        const field = prefix ? `${prefix}.${k}` : k;
        if (this.groups.has(field)) walk(v, field);
        else if (this.byPath.has(field)) out.set(field, { value: v, source: path, from: 'file', text: false, base });
        else {
          const near = closest(field, [...this.byPath.keys(), ...this.groups]);
          throw new ConfigError(field, `unknown field (in ${path})${near ? `; did you mean ${near}?` : ''}; every field: docs/configuration.md`);
        }
      }
    };
    walk(doc, '');
    // A secret in a file others can read is refused, like a key file (ledger-node/keyfile.ts).
    const secrets = [...out.keys()].filter((f) => this.byPath.get(f)!.kind.secret);
    if (secrets.length > 0) {
      const problem = privateFileProblem(statSync(path));
      if (problem) {
        const vars = secrets.flatMap((f) => this.byPath.get(f)!.text.env ?? []);
        throw new GatewayError('E_KEY_PERMISSIONS', `${path} holds ${secrets.join(', ')} and is ${problem}; run chmod 600 on it` +
          `${vars.length ? `, or set ${vars.join(', ')} in the environment instead` : ''}`);
      }
    }
    return out;
  }
}

function valueAt(o: unknown, field: string): unknown {
  let v = o;
  for (const part of field.split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

function fileExists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    // A folder we may not look into is not "no config.json": say why.
    throw fsError(e, `cannot look into ${p}`);
  }
}

/** Build one section from the parsed values: defaults, required settings, then its `finish`. */
function build(
  s: AnySection, prefix: string, parsed: ReadonlyMap<string, unknown>, all: readonly FieldInfo[],
  record: (field: string, value: unknown, given: boolean) => void,
): unknown {
  const under = prefix ? `${prefix}.` : '';
  const given = all.filter((f) => f.field.startsWith(under) && parsed.has(f.field)).map((f) => f.field);
  if (s.optional && given.length === 0) return undefined;
  const out: Record<string, unknown> = {};
  for (const [name, n] of Object.entries(s.shape as Shape)) {
    const p = `${under}${name}`;
    if (n.node === 'section') {
      const v = build(n, p, parsed, all, record);
      if (v !== undefined) out[name] = v;
      continue;
    }
    if (parsed.has(p)) {
      out[name] = parsed.get(p);
      record(p, out[name], true);
    } else if (n.required) {
      if (s.optional) {
        // Name the settings that are given, never their values (a password may be among them).
        const needs = Object.entries(s.shape as Shape).filter(([, x]) => x.node === 'field' && x.required).map(([k]) => `${under}${k}`);
        throw new ConfigError(p, `required when ${prefix} is used (${given.join(', ')} set); ${prefix} needs ${needs.join(', ')}`);
      }
      const t = n.text;
      const ways = [t.flag && `pass --${t.flag}`, t.env && `set ${t.env}`, `"${p}" in the config file`].filter(Boolean);
      throw new ConfigError(p, `required: ${ways.join(', ')}`);
    } else if (n.dflt !== undefined) {
      out[name] = typeof n.dflt === 'function' ? (n.dflt as () => unknown)() : n.dflt;
      record(p, out[name], false);
    }
  }
  if (!s.finish) return out;
  return s.finish(out, { path: prefix, given, isGiven: (name: string) => parsed.has(`${under}${name}`) });
}
