/** `meterledger start`: run the gateway until SIGTERM, SIGINT or SIGHUP. */
import { genesisHash, toHex } from '../../../protocols/index.js';
import { configFlagOptions, loadStartConfig } from '../../config.js';
import { createLogger } from '../../logger.js';
import { type CommandSpec, out } from '../args.js';

export const startCommand: CommandSpec = {
  name: 'start',
  summary: 'Run the gateway: ledger node, MQTT broker and HTTP API. A data dir without a chain gets a dev chain with 10 meters.',
  options: {
    config: { type: 'string', value: 'F', help: 'JSON config file (or METERLEDGER_CONFIG; default <data-dir>/config.json if present)' },
    ...configFlagOptions(),
  },
  details: 'Settings: defaults < config file < METERLEDGER_* environment < flags. Every setting, with its\n' +
    'environment variable, is listed in docs/configuration.md (CONFIG_REFERENCE in gateway/config.ts).\n' +
    'meterledger config show prints the effective settings and where each comes from. The listening\n' +
    'addresses go to stdout, logs to stderr. SIGTERM, SIGINT or SIGHUP stops MQTT first, then the\n' +
    'node (flushing), then HTTP, and exits 0 (there is no reload: restart to apply changed settings).\n' +
    'If consensus halts on a failure it cannot recover from (E_CONSENSUS_HALTED in the log), the\n' +
    'gateway stops the same way and exits 1.',
  async run(args) {
    const config = loadStartConfig({ flags: args.values, env: process.env });
    const logger = createLogger(config.log.level, config.log.format);
    // Loaded here, not at the top: --help and the other commands need neither LevelDB nor aedes.
    const { startGateway, waitForSignal } = await import('../../gateway.js');
    const gw = await startGateway(config, { logger, notice: out });
    const u = gw.urls;
    // On stdout: logs (JSON off a terminal) keep stderr to themselves.
    out(`meterledger ${gw.node.genesis.chainId} listening (genesis ${toHex(genesisHash(gw.node.genesis))})`);
    for (const [name, url] of Object.entries(u)) out(`  ${name.padEnd(7)}${url}`);
    // A signal stops it cleanly (exit 0); a node that halted (E_CONSENSUS_HALTED, logged) stops it with 1.
    const failed = gw.node.failed?.then((e) => e) ?? new Promise<never>(() => {});
    const outcome = await Promise.race([waitForSignal(logger).then(() => undefined), failed]);
    if (outcome) logger.error({ err: outcome }, 'the ledger node failed; the gateway stops');
    await gw.close();
    logger.flush();
    return outcome ? 1 : 0;
  },
};
