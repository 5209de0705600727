// An independent IPFS node (Helia) fetching from a Mosaic gateway's libp2p
// host over Bitswap, run by tests/tests/it/bitswap.rs:
//
//   node bitswap.mjs MULTIADDR ROOT PATH INNER FILE_OUT BLOCK_OUT
//
// Only TCP + noise + yamux, Identify, Ping, a kad-dht client on
// /ipfs/kad/1.0.0 and Bitswap: no bootstrap peers, no HTTP routers or
// gateways. It dials MULTIADDR, finds the host as a provider of ROOT
// through the DHT, cats ROOT/PATH with @helia/unixfs into FILE_OUT and
// gets block INNER into BLOCK_OUT; then it finds the host through the DHT
// as a provider of INNER and of every other link of ROOT's directory node
// (blocks it never fetched: the host provides every block of an object it
// opened), and prints a JSON summary. It fails if the host is not found.
import { writeFile } from 'node:fs/promises'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { unixfs } from '@helia/unixfs'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createHeliaLight } from 'helia'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'

const [addrText, rootText, path, innerText, fileOut, blockOut] = process.argv.slice(2)
if (blockOut == null) {
  console.error('usage: node bitswap.mjs MULTIADDR ROOT PATH INNER FILE_OUT BLOCK_OUT')
  process.exit(2)
}
const signal = AbortSignal.timeout(150_000)
const addr = multiaddr(addrText)
const gateway = addr.getComponents().find(c => c.name === 'p2p')?.value
const root = CID.parse(rootText)
const inner = CID.parse(innerText)

const helia = withBitswap(withLibp2pLight(createHeliaLight({}), {
  addresses: { listen: [] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  peerDiscovery: [],
  services: {
    identify: identify(),
    ping: ping(),
    // The host is on loopback: keep its private addresses (the default
    // mapper drops them, and the peer with them).
    dht: kadDHT({ protocol: '/ipfs/kad/1.0.0', clientMode: true, peerInfoMapper: passthroughMapper })
  }
}))
await helia.start()
try {
  await helia.libp2p.dial(addr, { signal })
  console.error('bitswap.mjs: connected to', gateway)

  // The DHT query waits until the host is in the routing table (after
  // Identify); the host may still be reading the chain, so ask again until
  // it names itself.
  const provider = await findGateway(root, signal)

  console.error('bitswap.mjs: found the host as a provider; reading', path)
  const chunks = []
  for await (const chunk of unixfs(helia).cat(root, { path, signal })) {
    chunks.push(chunk)
  }
  const file = Buffer.concat(chunks)
  await writeFile(fileOut, file)

  console.error('bitswap.mjs: read', file.length, 'bytes; getting block', innerText)
  const parts = []
  for await (const part of helia.blockstore.get(inner, { signal })) {
    parts.push(part)
  }
  const block = Buffer.concat(parts)
  await writeFile(blockOut, block)
  const rehashed = CID.create(1, inner.code, await sha256.digest(block))

  // Blocks of the object that Helia did not ask for, or only over Bitswap:
  // provided since the host opened the object.
  const rootParts = []
  for await (const part of helia.blockstore.get(root, { signal })) {
    rootParts.push(part)
  }
  const dagPb = await helia.getCodec(root.code)
  const links = dagPb.decode(Buffer.concat(rootParts)).Links
  const blocks = [inner, ...links.map(link => link.Hash).filter(cid => !inner.equals(cid))]
  for (const cid of blocks) {
    await findGateway(cid, AbortSignal.any([signal, AbortSignal.timeout(30_000)]))
  }

  console.log(JSON.stringify({
    provider: provider.id,
    providerAddrs: provider.multiaddrs.map(a => a.toString()),
    fileBytes: file.length,
    blockBytes: block.length,
    blockMatchesCid: rehashed.equals(inner),
    blocksProvided: blocks.map(cid => cid.toString()),
    connections: helia.libp2p.getConnections().map(c => c.remotePeer.toString())
  }))
} finally {
  await helia.stop()
}

// The host as a provider of `cid` through the DHT, asked again (10 s a
// query) until it names itself or `until` aborts.
async function findGateway (cid, until) {
  while (true) {
    until.throwIfAborted()
    for await (const found of helia.routing.findProviders(cid, { signal: AbortSignal.any([until, AbortSignal.timeout(10_000)]) })) {
      // A peer id, or a CID naming one: compared by multihash.
      const id = base58btc.baseEncode((found.id.multihash ?? found.id.toMultihash()).bytes)
      console.error('bitswap.mjs: provider of', cid.toString(), id, found.multiaddrs.map(a => a.toString()))
      if (id === gateway) {
        return { id, multiaddrs: found.multiaddrs }
      }
    }
  }
}
