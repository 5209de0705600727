// Fetches each ipfs:// URL given through @helia/verified-fetch from one
// trustless gateway and nothing else (no libp2p, no delegated routing, no
// other gateway): every block is asked of the gateway as a raw block and
// checked against its CID by Helia, and the file is rebuilt from the DAG.
//
//   node verified-fetch.mjs GATEWAY_URL OUT_DIR ipfs://CID[/path]...
//
// Writes the bytes of the i-th URL to OUT_DIR/i; exits non-zero on any
// failure.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createHeliaLight } from 'helia'
import { withHTTP } from '@helia/http'
import { createVerifiedFetch } from '@helia/verified-fetch'

const [gateway, outDir, ...urls] = process.argv.slice(2)
if (gateway == null || outDir == null || urls.length === 0) {
  console.error('usage: verified-fetch.mjs GATEWAY_URL OUT_DIR ipfs://CID[/path]...')
  process.exit(2)
}

const helia = withHTTP(createHeliaLight(), {
  delegatedRouters: [],
  recursiveGateways: [gateway],
  allowInsecure: true,
  allowLocal: true
})
// Helia waits forever for providers when it has fallback routers only (the
// gateway above): a router that knows no provider lets it go on to them.
helia.addRouter({ name: 'no-other-router', async * findProviders () {} })
await helia.start()
const verifiedFetch = await createVerifiedFetch(helia)
try {
  for (const [index, url] of urls.entries()) {
    const response = await verifiedFetch(url, { signal: AbortSignal.timeout(120_000) })
    if (!response.ok) {
      throw new Error(`${url}: ${response.status} ${await response.text()}`)
    }
    const bytes = new Uint8Array(await response.arrayBuffer())
    await writeFile(join(outDir, String(index)), bytes)
    console.error(`fetched ${url}: ${bytes.length} bytes`)
  }
} finally {
  await verifiedFetch.stop()
  await helia.stop()
}
