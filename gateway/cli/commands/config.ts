/**
 * `meterledger config show` (the effective settings, each with its source, secrets masked)
 * and `meterledger config check` (validate a configuration without starting anything).
 * Both read what `start` would read: the file, METERLEDGER_* variables and the same flags.
 */
import { CONFIG_REFERENCE, checkConfigFiles, configFlagOptions, resolveConfig } from '../../config.js';
import { type ValueSource, showValue } from '../../config-schema.js';
import { type CommandSpec, type OptionSpec, out } from '../args.js';

const options: Record<string, OptionSpec> = {
  config: { type: 'string', value: 'F', help: 'JSON config file (or METERLEDGER_CONFIG; default <data-dir>/config.json if present)' },
  ...configFlagOptions(),
};

const MASK = '********';

function sourceText(s: ValueSource): string {
  return s.from === 'default' ? 'default' : s.from === 'file' ? 'file' : `${s.from} ${s.where}`;
}

export const configShowCommand: CommandSpec = {
  name: 'config show',
  summary: 'Print the effective configuration, one setting per line with its source (default, file, env or flag); secrets are masked.',
  options: { ...options, json: { type: 'boolean', help: 'one JSON object: {file, settings: {field: {value, source, where?}}}' } },
  details: 'The same sources, in the same order, as meterledger start: defaults < config file < METERLEDGER_*\n' +
    'environment < flags. Every setting is described in docs/configuration.md.',
  async run(args) {
    const loaded = resolveConfig({ flags: args.values, env: process.env });
    const secret = new Set(CONFIG_REFERENCE.filter((r) => r.secret).map((r) => r.field));
    const redact = new Map(CONFIG_REFERENCE.filter((r) => r.redact).map((r) => [r.field, r.redact!]));
    const rows = CONFIG_REFERENCE.map((r) => {
      const { value, source } = loaded.values.get(r.field)!;
      const hide = redact.get(r.field);
      const shown = value === undefined ? undefined : secret.has(r.field) ? MASK : hide ? JSON.parse(hide(JSON.stringify(value))) as unknown : value;
      return { field: r.field, value: shown, source };
    });
    if (args.values.json === true) {
      const settings = Object.fromEntries(rows.map((r) => [r.field, {
        value: r.value ?? null, source: r.source.from, ...(r.source.from !== 'default' ? { where: r.source.where } : {}),
      }]));
      out(JSON.stringify({ file: loaded.file ?? null, settings }));
      return 0;
    }
    out(`# config file: ${loaded.file ?? '(none)'}`);
    const w = Math.max(...rows.map((r) => r.field.length)) + 2;
    const texts = rows.map((r) => (r.value === undefined ? '(unset)' : showValue(r.value)));
    const v = Math.min(48, Math.max(...texts.map((t) => t.length))) + 2;
    rows.forEach((r, i) => {
      const t = texts[i]!;
      out(`${r.field.padEnd(w)}${t}${' '.repeat(Math.max(2, v - t.length))}${r.value === undefined ? '' : sourceText(r.source)}`.trimEnd());
    });
    return 0;
  },
};

export const configCheckCommand: CommandSpec = {
  name: 'config check',
  summary: 'Check a configuration without starting: every value, every section\'s rules, and the files it names (readable; keys and secrets private).',
  options,
  details: 'Prints "ok: ..." and exits 0, or the first problem as error: <CODE>: <field>: <why> and exits 1.\n' +
    'With --config F the file is checked together with the environment and flags, as start would use them.',
  async run(args) {
    const loaded = resolveConfig({ flags: args.values, env: process.env });
    checkConfigFiles(loaded);
    const count = (from: string): number => [...loaded.values.values()].filter((x) => x.source.from === from).length;
    out(`ok: ${loaded.file ?? 'no config file'} (${count('file')} settings from the file, ${count('env')} from the environment, ${count('flag')} from flags; the rest are defaults)`);
    return 0;
  },
};
