/**
 * The design's direction of imports (docs/architecture.md):
 *   protocols <- ledger-node <- gateway;  protocols <- bridge <- gateway.
 * Nothing imports gateway or test; protocols stays pure and browser-safe;
 * only gateway imports prom-client.
 */
/** Node built-ins that browser code (protocols/, the portal) must not reach. */
const NODE_BUILTINS = '^node:|^(fs|net|http|https|crypto|os|path|child_process|worker_threads|stream|tls)$';

/** A rule that fails the lint on an import from `from` to `to`. */
const forbid = (name, comment, from, to) => ({ name, ...(comment ? { comment } : {}), severity: 'error', from, to });

module.exports = {
  forbidden: [
    forbid('protocols-is-pure', 'protocols/ runs in browsers and meter simulators: no other layer, no Node built-ins',
      { path: '^protocols/' }, { path: `^(ledger-node|bridge|gateway|test|bench)/|${NODE_BUILTINS}` }),
    forbid('protocols-no-core-modules', undefined, { path: '^protocols/' }, { dependencyTypes: ['core'] }),
    forbid('portal-is-browser-code', 'gateway/portal/app/ runs in the browser: only protocols/ (pure), its own files and browser libraries, no Node built-ins',
      { path: '^gateway/portal/app/' }, { path: `^(ledger-node|bridge|test|bench)/|^gateway/(?!portal/app/)|${NODE_BUILTINS}` }),
    forbid('portal-no-core-modules', undefined, { path: '^gateway/portal/app/' }, { dependencyTypes: ['core'] }),
    forbid('consensus-and-protocols-take-time-and-io-through-ports',
      'ledger-node/consensus and protocols/ reach timers, clocks, randomness, files and the network only through ports (ledger-node/consensus/ports.ts), so the simulation runs them on virtual time; the globals (setTimeout, Date.now, Math.random ...) are checked by test/unit/consensus/ports-only.test.ts',
      { path: '^(protocols|ledger-node/consensus)/' },
      { path: '^(node:)?(timers|timers/promises|perf_hooks|fs|fs/promises|net|dgram|dns|http|https|http2|tls|child_process|worker_threads|cluster|os|process)$|node_modules/(nats|classic-level)/' }),
    forbid('consensus-no-crypto-values', 'randomness comes in through a port: ledger-node/consensus uses node:crypto for types only (signing is ledger-node/crypto/native.ts)',
      { path: '^ledger-node/consensus/' }, { path: '^(node:)?crypto$', dependencyTypesNot: ['type-only'] }),
    forbid('ledger-node-not-to-adapters', 'the node never knows the device adapters nor the composition root',
      { path: '^ledger-node/' }, { path: '^(bridge|gateway|test|bench)/' }),
    forbid('bridge-not-to-node', 'bridge/ talks to the ledger only through the intake port in protocols/',
      { path: '^bridge/' }, { path: '^(ledger-node|gateway|test|bench)/' }),
    forbid('only-gateway-imports-prom-client', undefined, { path: '^(protocols|ledger-node|bridge)/' }, { path: 'node_modules/prom-client' }),
    forbid('nothing-imports-tests', undefined, { pathNot: '^(test|bench)/' }, { path: '^(test|bench)/' }),
    forbid('no-circular', undefined, {}, { circular: true }),
    forbid('not-to-unresolvable', undefined, {}, { couldNotResolve: true }),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.d.ts'] },
  },
};
