/**
 * aedes-persistence ships the types of its promise-based in-memory store (the one aedes 1.x
 * calls) under types/, not beside the module; this points the module at them.
 */
declare module 'aedes-persistence/asyncPersistence.js' {
  import MemoryPersistence = require('aedes-persistence/types/asyncPersistence.js');
  export = MemoryPersistence;
}
