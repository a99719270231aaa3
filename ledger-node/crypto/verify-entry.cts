/**
 * The file piscina loads in each verify worker. CommonJS on purpose: piscina require()s
 * its worker file first, and on Node 20.19+ a require() of an ES module there can abort
 * the whole process ("v8::Module::IsGraphAsync must be used on an instantiated module":
 * in 4 of 5 runs of 100 pool starts here). The ES modules with the work are only ever
 * import()ed, once per worker: signatures alone (./verify-worker.js), or a device's
 * transactions to decode and verify (./tx-worker.js, which loads the decoders).
 */
type SigHandler = (typeof import('./verify-worker.js'))['default'];
type TxHandler = (typeof import('./tx-worker.js'))['checkTxBatch'];
type SigBatch = Parameters<SigHandler>[0];
type TxBatch = Parameters<TxHandler>[0];

let sigs: Promise<SigHandler> | undefined;
let txs: Promise<TxHandler> | undefined;

export = async function run(batch: SigBatch | TxBatch): Promise<ReturnType<SigHandler> | ReturnType<TxHandler>> {
  if ('kind' in batch && batch.kind === 'tx') {
    txs ??= import('./tx-worker.js').then((m) => m.checkTxBatch);
    return (await txs)(batch);
  }
  sigs ??= import('./verify-worker.js').then((m) => m.default);
  return (await sigs)(batch as SigBatch);
};
