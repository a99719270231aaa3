/** `meterledger hash-password`: the scrypt hash a local MQTT account's config entry needs. */
import { hashPassword } from '../../../bridge/mqtt/index.js';
import { UsageError } from '../../errors.js';
import { type CommandSpec, out } from '../args.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export const hashPasswordCommand: CommandSpec = {
  name: 'hash-password',
  summary: 'Read a password on standard input and print its scrypt hash for mqtt.accounts[].passwordHash (never pass it as an argument: it would show in ps).',
  options: {},
  async run() {
    const pw = await readStdin();
    if (pw.length < 8) throw new UsageError('the password on standard input must have at least 8 characters');
    out(hashPassword(pw));
    return 0;
  },
};
