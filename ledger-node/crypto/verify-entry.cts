/**
 * The file piscina loads in each verify worker. CommonJS on purpose: piscina require()s
 * its worker file first, and on Node 20.19+ a require() of an ES module there can abort
 * the whole process ("v8::Module::IsGraphAsync must be used on an instantiated module":
 * in 4 of 5 runs of 100 pool starts here). The ES module with the work is only ever
 * import()ed, once per worker.
 */
type Handler = (typeof import('./verify-worker.js'))['default'];

let handler: Promise<Handler> | undefined;

export = async function verifyBatch(batch: Parameters<Handler>[0]): Promise<Uint8Array> {
  handler ??= import('./verify-worker.js').then((m) => m.default);
  return (await handler)(batch);
};
