// The Bitswap fetch rate of an independent IPFS node (Helia) reading a
// whole file from a Mosaic gateway's libp2p host, run by
// tests/examples/gateway_throughput.rs (a benchmark, not a test):
//
//   node bitswap-rate.mjs MULTIADDR CID
//
// Only TCP + noise + yamux, Identify, Ping and Bitswap: it dials MULTIADDR
// and cats CID with @helia/unixfs, so every block comes from that host and
// is checked against its CID by Helia. Prints one JSON line: bytes, the
// SHA-256 of the file, seconds from the dial to the last byte, and
// milliseconds to the first byte.
import { createHash } from 'node:crypto'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { unixfs } from '@helia/unixfs'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'

const [addrText, cidText] = process.argv.slice(2)
if (cidText == null) {
  console.error('usage: node bitswap-rate.mjs MULTIADDR CID')
  process.exit(2)
}
const signal = AbortSignal.timeout(1_800_000)
const cid = CID.parse(cidText)

const helia = withBitswap(withLibp2pLight(createHeliaLight({}), {
  addresses: { listen: [] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  peerDiscovery: [],
  services: { identify: identify(), ping: ping() }
}))
await helia.start()
try {
  const started = performance.now()
  await helia.libp2p.dial(multiaddr(addrText), { signal })
  const hash = createHash('sha256')
  let bytes = 0
  let firstByte
  for await (const chunk of unixfs(helia).cat(cid, { signal })) {
    firstByte ??= performance.now() - started
    hash.update(chunk)
    bytes += chunk.length
  }
  const seconds = (performance.now() - started) / 1000
  console.log(JSON.stringify({ bytes, sha256: hash.digest('hex'), seconds, firstByteMs: firstByte }))
} finally {
  await helia.stop()
}
