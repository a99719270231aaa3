/**
 * The design's direction of imports (docs/architecture.md):
 *   protocols <- ledger-node <- gateway;  protocols <- bridge <- gateway.
 * Nothing imports gateway or test; protocols stays pure and browser-safe;
 * only gateway imports prom-client.
 */
module.exports = {
  forbidden: [
    {
      name: 'protocols-is-pure',
      comment: 'protocols/ runs in browsers and meter simulators: no other layer, no Node built-ins',
      severity: 'error',
      from: { path: '^protocols/' },
      to: { path: '^(ledger-node|bridge|gateway|test|bench)/|^node:|^(fs|net|http|https|crypto|os|path|child_process|worker_threads|stream|tls)$' },
    },
    {
      name: 'protocols-no-core-modules',
      severity: 'error',
      from: { path: '^protocols/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'portal-is-browser-code',
      comment: 'gateway/portal/app/ runs in the browser: only protocols/ (pure), its own files and browser libraries, no Node built-ins',
      severity: 'error',
      from: { path: '^gateway/portal/app/' },
      to: { path: '^(ledger-node|bridge|test|bench)/|^gateway/(?!portal/app/)|^node:|^(fs|net|http|https|crypto|os|path|child_process|worker_threads|stream|tls)$' },
    },
    {
      name: 'portal-no-core-modules',
      severity: 'error',
      from: { path: '^gateway/portal/app/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'consensus-and-protocols-take-time-and-io-through-ports',
      comment: 'ledger-node/consensus and protocols/ reach timers, clocks, randomness, files and the network only through ports (ledger-node/consensus/ports.ts), so the simulation runs them on virtual time; the globals (setTimeout, Date.now, Math.random ...) are checked by test/unit/consensus/ports-only.test.ts',
      severity: 'error',
      from: { path: '^(protocols|ledger-node/consensus)/' },
      to: { path: '^(node:)?(timers|timers/promises|perf_hooks|fs|fs/promises|net|dgram|dns|http|https|http2|tls|child_process|worker_threads|cluster|os|process)$|node_modules/(nats|classic-level)/' },
    },
    {
      name: 'consensus-no-crypto-values',
      comment: 'randomness comes in through a port: ledger-node/consensus uses node:crypto for types only (signing is ledger-node/crypto/native.ts)',
      severity: 'error',
      from: { path: '^ledger-node/consensus/' },
      to: { path: '^(node:)?crypto$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'ledger-node-not-to-adapters',
      comment: 'the node never knows the device adapters nor the composition root',
      severity: 'error',
      from: { path: '^ledger-node/' },
      to: { path: '^(bridge|gateway|test|bench)/' },
    },
    {
      name: 'bridge-not-to-node',
      comment: 'bridge/ talks to the ledger only through the intake port in protocols/',
      severity: 'error',
      from: { path: '^bridge/' },
      to: { path: '^(ledger-node|gateway|test|bench)/' },
    },
    {
      name: 'only-gateway-imports-prom-client',
      severity: 'error',
      from: { path: '^(protocols|ledger-node|bridge)/' },
      to: { path: 'node_modules/prom-client' },
    },
    {
      name: 'nothing-imports-tests',
      severity: 'error',
      from: { pathNot: '^(test|bench)/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.d.ts'] },
  },
};
