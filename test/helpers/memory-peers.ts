/** Peer layers over the in-memory network for tests that play a gateway's part themselves. */
import type { Genesis } from '../../protocols/index.js';
import { dataPaths } from '../../ledger-node/devchain.js';
import { loadKeyFile } from '../../ledger-node/keyfile.js';
import type { MemoryNetwork } from '../../ledger-node/p2p/memory.js';
import { PeerLayer, type PeerLayerOptions, peerKeysOf } from '../../ledger-node/p2p/peers.js';

/** The peer layer of `nodeId`, whose data dir holds its node key, on `net`: what the node itself would run. */
export function memoryPeer(net: MemoryNetwork, genesis: Genesis, nodeId: string, dataDir: string, over: Partial<PeerLayerOptions> = {}): PeerLayer {
  const key = loadKeyFile(dataPaths(dataDir).validatorKey);
  return new PeerLayer(net.carrier(nodeId), { chainId: genesis.chainId, nodeId, nodeKey: key.privateKey, peers: peerKeysOf(genesis), ...over });
}
