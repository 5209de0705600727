// Asks a gateway several requests at once over one HTTP/2 connection with
// prior knowledge (cleartext h2c), with Node's own HTTP/2 client (nghttp2):
// an HTTP/2 implementation independent of the gateway's (hyper's h2).
//
//   node h2-get.mjs BASE_URL OUT_DIR REQUESTS_JSON
//
// REQUESTS_JSON is a list of {"path": "/ipfs/…", "headers": {…}}. Writes the
// body of the i-th response to OUT_DIR/i and prints, as JSON, each
// response's status and headers, and the HTTP version of the session.
// Exits non-zero on any failure.
import { connect } from 'node:http2'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const [base, outDir, requestsJson] = process.argv.slice(2)
if (base == null || outDir == null || requestsJson == null) {
  console.error('usage: h2-get.mjs BASE_URL OUT_DIR REQUESTS_JSON')
  process.exit(2)
}
const requests = JSON.parse(requestsJson)

const session = connect(base)
session.setTimeout(120_000, () => session.destroy(new Error('timed out')))
const sessionError = new Promise((_resolve, reject) => session.on('error', reject))

function ask ({ path, headers = {} }) {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'GET', ':path': path, ...headers })
    const chunks = []
    let head = null
    stream.on('response', (h) => { head = h })
    stream.on('data', (chunk) => chunks.push(chunk))
    stream.on('end', () => resolve({ head, body: Buffer.concat(chunks) }))
    stream.on('error', reject)
  })
}

try {
  const answers = await Promise.race([Promise.all(requests.map(ask)), sessionError])
  const report = []
  for (const [index, { head, body }] of answers.entries()) {
    await writeFile(join(outDir, String(index)), body)
    const headers = Object.fromEntries(Object.entries(head).filter(([name]) => !name.startsWith(':')))
    report.push({ status: head[':status'], headers })
  }
  console.log(JSON.stringify({ alpn: session.alpnProtocol ?? null, responses: report }))
} finally {
  session.close()
}
