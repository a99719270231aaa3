/**
 * `meterledger genesis ...`: the coordinator of a consortium assembles a draft genesis from
 * the parties' public key cards (`meterledger keygen --json`), finalizes it, and every
 * party checks its hash (docs/consensus.md, "Forming a consortium"). No secret key is
 * ever read here: a draft and a genesis hold public keys only.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Genesis, type GenesisKey, genesisHash, toHex } from '../../../protocols/index.js';
import { GatewayError, UsageError } from '../../errors.js';
import { type CommandSpec, type OptionSpec, type ParsedArgs, err, intFlag, optionalString, out } from '../args.js';
import {
  type DraftRole, addEntries, checkGenesisTime, describeDraft, finalizeDraft, loadDraft, loadFinishedGenesis,
  loadGenesisOrDraft, newDraft, saveDraft,
} from '../genesis-draft.js';
import { type CardRole, readCards } from '../key-card.js';

const draftArg = [{ name: 'DRAFT', help: 'the draft genesis file (JSON, made by meterledger genesis new)' }];
const fileArg = [{ name: 'FILE', help: 'a genesis file' }];

const keyOptions = (what: string): Record<string, OptionSpec> => ({
  card: { type: 'string', value: 'FILE', help: `${what} card(s) from meterledger keygen --json: one JSON object, an array, or one per line; - reads standard input` },
  id: { type: 'string', value: 'ID', help: 'the id (instead of a card, or replacing the card\'s)' },
  'public-key': { type: 'string', value: 'HEX', help: 'the public key, hex (instead of a card)' },
});

/** Genesis entries from --card or from flags; flags given with a card replace its fields. */
function entriesOf(args: ParsedArgs, role: DraftRole, cmd: string, fields: Record<string, unknown>): Record<string, unknown>[] {
  const file = optionalString(args, 'card');
  const id = optionalString(args, 'id');
  const publicKey = optionalString(args, 'public-key');
  const alg = optionalString(args, 'alg');
  const given = { ...(id !== undefined ? { id } : {}), ...(publicKey !== undefined ? { publicKey } : {}), ...(alg !== undefined ? { alg } : {}), ...fields };
  if (file === undefined) {
    if (id === undefined || publicKey === undefined) throw new UsageError(`give --card FILE, or --id and --public-key (see meterledger ${cmd} --help)`);
    return [{ alg: 'Ed25519', ...given }];
  }
  if (publicKey !== undefined) throw new UsageError('--public-key and --card exclude each other');
  const wanted: CardRole = role === 'validator' || role === 'observer' ? 'node' : role;
  const cards = readCards(file);
  if (cards.length > 1 && id !== undefined) throw new UsageError(`--id names one entry but ${file} holds ${cards.length} cards`);
  return cards.map((c, i) => {
    if (c.role !== wanted) {
      throw new GatewayError('E_CARD_INVALID', `${file}${cards.length > 1 ? `[${i}]` : ''} is the card of a${c.role === 'operator' ? 'n' : ''} ${c.role} key ("${c.id}"), not of a ${wanted} key: use meterledger genesis add-${c.role === 'node' ? 'validator or add-observer' : c.role}`);
    }
    const own = role === 'meter' ? { ...(c.owner !== undefined ? { owner: c.owner } : {}), ...(c.jid !== undefined ? { jid: c.jid } : {}) } : {};
    return { id: c.id, alg: c.alg, publicKey: c.publicKey, ...own, ...given };
  });
}

function addCommand(role: DraftRole, summary: string, extra: Record<string, OptionSpec>, fields: (args: ParsedArgs, cmd: string) => Record<string, unknown>): CommandSpec {
  const name = `genesis add-${role}`;
  return {
    name,
    summary,
    positionals: draftArg,
    options: { ...keyOptions(role === 'validator' || role === 'observer' ? 'node key' : `${role} key`), ...extra },
    details: 'Checked as the genesis will be (docs/protocol.md §6): a well-formed key of an allowed algorithm, an\n' +
      'id not yet in its list (validators and observers share one), and a public key nowhere else in the draft.',
    async run(args) {
      const path = resolve(args.positionals[0]!);
      const draft = loadDraft(path);
      const entries = entriesOf(args, role, name, fields(args, name));
      const next = addEntries(draft, entries.map((e) => [role, e] as const));
      saveDraft(path, next);
      const what = entries.length === 1 ? `${role} "${String(entries[0]!.id)}"` : `${entries.length} ${role}s`;
      out(`added ${what} to ${path}: ${describeDraft(next)}`);
      return 0;
    },
  };
}

export const genesisNewCommand: CommandSpec = {
  name: 'genesis new',
  summary: 'Start a draft genesis for a consortium: chain id and parameters; then add the parties\' public keys with genesis add-*.',
  positionals: draftArg,
  options: {
    'chain-id': { type: 'string', value: 'ID', required: true, help: 'chain id, [a-z0-9][a-z0-9._-]{0,63}' },
    'genesis-time': { type: 'string', value: 'T', help: 'RFC 3339 time (default: when finalized)' },
    'max-tx-bytes': { type: 'string', value: 'N', help: 'largest transaction, bytes (default 1024)' },
    'max-block-txs': { type: 'string', value: 'N', help: 'most transactions in a block (default 10000)' },
  },
  async run(args) {
    const cmd = 'genesis new';
    const maxTxBytes = intFlag(args, 'max-tx-bytes', cmd, 1, Number.MAX_SAFE_INTEGER);
    const maxBlockTxs = intFlag(args, 'max-block-txs', cmd, 1, Number.MAX_SAFE_INTEGER);
    const time = optionalString(args, 'genesis-time');
    const draft = newDraft({
      chainId: optionalString(args, 'chain-id')!,
      ...(time !== undefined ? { genesisTime: time } : {}),
      params: { ...(maxTxBytes !== undefined ? { maxTxBytes } : {}), ...(maxBlockTxs !== undefined ? { maxBlockTxs } : {}) },
    });
    const path = resolve(args.positionals[0]!);
    saveDraft(path, draft, { create: true });
    out(`draft ${path} for chain "${draft.chainId}"`);
    out(`next: meterledger genesis add-validator ${path} --card CARD (one per validator), add-observer, add-operator, add-meter; then genesis finalize`);
    return 0;
  },
};

export const genesisAddValidatorCommand = addCommand('validator',
  'Add a validator (a voting gateway) to a draft genesis, from the public card its party made with meterledger keygen.',
  { power: { type: 'string', value: 'N', help: 'voting power, 1..2^50 (default 1)' } },
  (args, cmd) => ({ power: intFlag(args, 'power', cmd, 1, 2 ** 50, 1) }));

export const genesisAddObserverCommand = addCommand('observer',
  'Add an observer (a gateway that replicates and takes meter traffic without voting) to a draft genesis.',
  {}, () => ({}));

export const genesisAddOperatorCommand = addCommand('operator',
  'Add an operator key (signs meter registrations, rotations and revocations) to a draft genesis.',
  { alg: { type: 'string', value: 'ALG', help: 'Ed25519 (default) or ES256, without a card' } },
  () => ({}));

export const genesisAddMeterCommand = addCommand('meter',
  'Add meters to a draft genesis by public key: a card or a file of cards (one per line or an array), or --id, --alg and --public-key.',
  {
    alg: { type: 'string', value: 'ALG', help: 'Ed25519 (default) or ES256, without a card' },
    owner: { type: 'string', value: 'ACCOUNT', help: 'owner account' },
    jid: { type: 'string', value: 'JID', help: 'the one bare JID the meter may send from over XMPP' },
  },
  (args) => {
    const owner = optionalString(args, 'owner');
    const jid = optionalString(args, 'jid');
    return { ...(owner !== undefined ? { owner } : {}), ...(jid !== undefined ? { jid } : {}) };
  });

/** Faulty voting power the chain survives: less than a third of the total (docs/consensus.md). */
const tolerated = (totalPower: number): number => Math.floor((totalPower - 1) / 3);

export const genesisFinalizeCommand: CommandSpec = {
  name: 'genesis finalize',
  summary: 'Turn a draft into the genesis file and print its hash, which every party checks before starting.',
  positionals: draftArg,
  options: {
    out: { type: 'string', value: 'FILE', required: true, help: 'the genesis file to write (must not exist)' },
    'genesis-time': { type: 'string', value: 'T', help: 'RFC 3339 time (default: the draft\'s, else now)' },
  },
  async run(args) {
    const draftPath = resolve(args.positionals[0]!);
    const time = optionalString(args, 'genesis-time');
    const draft = loadDraft(draftPath);
    const genesis = finalizeDraft(time !== undefined ? { ...draft, genesisTime: checkGenesisTime(time) } : draft,
      new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'));
    const file = resolve(optionalString(args, 'out')!);
    try {
      writeFileSync(file, JSON.stringify(genesis, null, 2) + '\n', { mode: 0o644, flag: 'wx' });
    } catch (cause) {
      if ((cause as { code?: string }).code === 'EEXIST') throw new GatewayError('E_GENESIS_EXISTS', `${file} already exists; a genesis is never overwritten`, { cause });
      throw cause;
    }
    const hash = toHex(genesisHash(genesis));
    const power = genesis.validators.reduce((s, v) => s + v.power, 0);
    out(`genesis   ${file}`);
    out(`chain id  ${genesis.chainId} (${genesis.genesisTime})`);
    out(`contents  ${describeDraft(genesis)}`);
    out(`hash      ${hash}`);
    out(`next: send ${file} to every party and tell them the hash by another channel; each runs`);
    out(`  meterledger genesis install FILE --data-dir D --expect-hash ${hash}`);
    if (tolerated(power) === 0) err(`warning: with total power ${power} no validator may fail or misbehave; 4 validators of equal power survive one`);
    return 0;
  },
};

const lines = <T extends GenesisKey>(title: string, list: readonly T[], row: (k: T) => string, limit: number): string[] => [
  `${title.padEnd(11)}${list.length}`,
  ...list.slice(0, limit).map((k) => `  ${row(k)}`),
  ...(list.length > limit ? [`  ... and ${list.length - limit} more (--json shows all)`] : []),
];

function showLines(g: Genesis | Omit<Genesis, 'genesisTime'> & { genesisTime?: string }, hash: string | undefined): string[] {
  const power = g.validators.reduce((s, v) => s + v.power, 0);
  return [
    `chain id   ${g.chainId}`,
    `time       ${g.genesisTime ?? '(set at finalize)'}`,
    `hash       ${hash ?? '(a draft: no hash until genesis finalize)'}`,
    `params     maxTxBytes ${g.params.maxTxBytes}, maxBlockTxs ${g.params.maxBlockTxs}`,
    ...lines('validators', g.validators, (v) => `${v.id}  power ${v.power}  ${v.alg} ${v.publicKey}`, Infinity),
    `           total power ${power}; tolerates faulty validators with up to ${tolerated(power)} of it`,
    ...lines('observers', g.observers ?? [], (o) => `${o.id}  ${o.alg} ${o.publicKey}`, Infinity),
    ...lines('operators', g.operators, (o) => `${o.id}  ${o.alg} ${o.publicKey}`, Infinity),
    ...lines('meters', g.meters, (m) => `${m.id}  ${m.alg} ${m.publicKey}${m.owner !== undefined ? `  owner ${m.owner}` : ''}`, 20),
  ];
}

export const genesisShowCommand: CommandSpec = {
  name: 'genesis show',
  summary: 'Show a genesis (or a draft): chain, parameters, every validator, observer and operator with its key, the meters, and the hash.',
  positionals: fileArg,
  options: { json: { type: 'boolean', help: 'one JSON object: {"hash", "genesis"} (a draft: {"draft"})' } },
  async run(args) {
    const path = resolve(args.positionals[0]!);
    const g = loadGenesisOrDraft(path);
    if ('draft' in g) {
      if (args.values.json === true) out(JSON.stringify({ draft: g.draft }));
      else for (const l of showLines(g.draft, undefined)) out(l);
      return 0;
    }
    const hash = toHex(genesisHash(g.genesis));
    if (args.values.json === true) out(JSON.stringify({ hash, genesis: g.genesis }));
    else for (const l of showLines(g.genesis, hash)) out(l);
    return 0;
  },
};

export const genesisHashCommand: CommandSpec = {
  name: 'genesis hash',
  summary: 'Print the hash of a genesis file (SHA-256 of its deterministic CBOR, docs/protocol.md §6): every party compares it with the one the coordinator announced.',
  positionals: fileArg,
  options: {},
  async run(args) {
    out(toHex(genesisHash(loadFinishedGenesis(resolve(args.positionals[0]!)))));
    return 0;
  },
};
