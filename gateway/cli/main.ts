#!/usr/bin/env node
/**
 * The `meterledger` command. Exit codes: 0 done, 1 failed (`error: <CODE>: <message>`,
 * no stack trace unless --debug), 2 wrong usage (unknown command or flag).
 */
import { UsageError, describeError } from '../errors.js';
import { closest } from '../suggest.js';
import { VERSION } from '../version.js';
import { helpText, parseCommandArgs } from './args.js';
import { COMMANDS, GROUPS } from './commands/index.js';

function mainHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'usage: meterledger <command> [flags]',
    '',
    'meterledger: a gateway that turns signed smart-meter readings into a verifiable ledger.',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}${c.summary}`),
    '',
    'Run meterledger <command> --help for its flags. --debug prints stack traces; --version the version.',
  ].join('\n') + '\n';
}

async function main(argv: string[]): Promise<number> {
  const [first, second] = argv;
  if (first === undefined) {
    process.stderr.write(mainHelp());
    return 2;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(mainHelp());
    return 0;
  }
  if (first === '--version' || first === '-v') {
    process.stdout.write(`meterledger ${VERSION}\n`);
    return 0;
  }
  let words = 1;
  // A word that is a command and a group (`dispute`, `dispute answer`): flags after it run the command.
  const alsoCommand = COMMANDS.some((c) => c.name === first) && (second === undefined || second.startsWith('-'));
  if (GROUPS.includes(first) && !alsoCommand) {
    const subs = COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.split(' ')[1]!);
    if (second === undefined || second === '--help' || second === '-h') {
      const text = `usage: meterledger ${first} <${subs.join('|')}> [flags]\n\nRun meterledger ${first} <subcommand> --help for its flags.\n`;
      if (second === undefined) {
        process.stderr.write(text);
        return 2;
      }
      process.stdout.write(text);
      return 0;
    }
    if (!subs.includes(second)) {
      const near = closest(second, subs);
      throw new UsageError(`unknown command "meterledger ${first} ${second}"${near ? `; did you mean "meterledger ${first} ${near}"?` : ''} (one of: ${subs.join(', ')})`);
    }
    words = 2;
  }
  const name = argv.slice(0, words).join(' ');
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    // A mistyped word: the nearest command or group (`simlate` -> simulate, `meters` -> meter).
    const near = closest(first, [...COMMANDS.map((c) => c.name.split(' ')[0]!), ...GROUPS]);
    throw new UsageError(`unknown command "${first}"${near ? `; did you mean "meterledger ${near}"?` : ''} (run meterledger --help for the list)`);
  }
  const spec = await entry.load();
  const args = parseCommandArgs(spec, argv.slice(words));
  if (args.help) {
    process.stdout.write(helpText(spec));
    return 0;
  }
  return spec.run(args);
}

const argv = process.argv.slice(2);
const debug = argv.includes('--debug');
main(argv).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const { code, message } = describeError(e);
    process.stderr.write(`error: ${code}: ${message}\n`);
    if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
