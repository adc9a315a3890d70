// make bench's web figures:
//   BENCH web_js_gzip_kb: the JavaScript of the first load (the entry and
//     its static imports, as dist/index.html names them), gzipped.
//   BENCH web_public_verify_load_ms: the public verification page of a
//     retirement statement, from navigation to its verdict on screen, in
//     headless Chromium on loopback with a cold cache, median of 10 loads.
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { join } from 'node:path'
import { api, launch, startServer, token, until } from './harness.mjs'

const dist = join(import.meta.dirname, '..', 'dist')
const index = readFileSync(join(dist, 'index.html'), 'utf8')
const files = [...index.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1])
if (!files.length) throw new Error('dist/index.html names no JavaScript: run make web')
const gz = files.reduce((n, f) => n + gzipSync(readFileSync(join(dist, f)), { level: 9 }).length, 0)
console.log(`BENCH web_js_gzip_kb ${(gz / 1024).toFixed(1)} kB`)

const srv = await startServer({ simulator: true })
const browser = await launch()
try {
  // A statement to verify: the simulator mints the miner's batches; the
  // miner lists part of one, the buyer reserves, the miner confirms and
  // the buyer retires it.
  const miner = await token(srv.url, srv.logins.miner)
  const buyer = await token(srv.url, srv.logins.buyer)
  const batch = await until('a minted batch', async () => (await api(srv.url, 'GET', '/batches?limit=1', { token: miner })).items?.[0], 120_000)
  const listing = await api(srv.url, 'POST', '/listings', { token: miner, body: { batch_id: batch.id, quantity: 1000, price_minor: 100, currency: 'EUR' } })
  await until('the listing in the marketplace', async () => (await api(srv.url, 'GET', '/listings?limit=100', { token: buyer })).items?.some((l) => l.id === listing.result.id))
  await api(srv.url, 'POST', `/listings/${listing.result.id}/reserve`, { token: buyer })
  await api(srv.url, 'POST', `/listings/${listing.result.id}/confirm`, { token: miner })
  const st = await api(srv.url, 'POST', '/retirements', {
    token: buyer,
    body: { parts: [{ batch_id: batch.id, quantity: 1000 }], beneficiary: 'Bench GmbH', jurisdiction: 'DE', purpose: 'voluntary-offset', reporting_year: 2023, reason: 'bench' },
  })
  const url = `${srv.url}/verify/retirements/${st.result.id}`
  await until('the statement to verify', async () => (await fetch(`${srv.url}/v1/public/retirements/${st.result.id}`)).ok)
  const times = []
  for (let i = 0; i < 10; i++) {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } })
    const page = await ctx.newPage()
    await page.goto(url, { waitUntil: 'commit' })
    await page.locator('[data-testid=verdict]').waitFor({ timeout: 30_000 })
    // The app marks gm-verdict when the verdict is rendered; its time is
    // from the navigation's start.
    times.push(await page.evaluate(() => performance.getEntriesByName('gm-verdict')[0].startTime))
    if (process.env.BENCH_VERBOSE)
      console.log(await page.evaluate(() => performance.getEntries().map((e) => `${e.entryType} ${e.name.replace(location.origin, '')} ${e.startTime.toFixed(0)}+${e.duration.toFixed(0)}`).join('\n')))
    await ctx.close()
    // Below the gateway's anonymous rate limit (5 requests a second a client).
    await new Promise((r) => setTimeout(r, 1000))
  }
  times.sort((a, b) => a - b)
  const median = (times[4] + times[5]) / 2
  console.log(`BENCH web_public_verify_load_ms ${median.toFixed(0)} ms`)
} finally {
  await browser.close()
  await srv.stop()
}
