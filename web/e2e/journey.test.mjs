// The whole journey in a real browser, each step by the person whose step
// it is, against a real `greenmint serve`: the registry approves a miner's
// new site and meters, readings arrive (an API key, as a collector sends
// them), the oracle attests and a batch mints, the miner lists, a buyer
// reserves, the miner confirms, the buyer retires two batches into one
// statement, the public page opened from the QR code decoded from the
// statement's PDF shows it retired, an auditor flags a batch
// and the registry resolves the flag. Then: another miner's user sees none
// of it, and axe-core found no serious or critical violation on any page.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { pdfQR } from './pdfqr.mjs'
import { api, check, checked, launch, meterKey, readingsCSV, signIn, startServer, token, until, violations } from './harness.mjs'

const SITE = 'SITE0777'

// quantity is web/src/lib/format.ts's: a part's quantity as the pages show
// it (EAC in Wh, CO2E in gCO2e; a batch ID starts with its instrument).
function quantity(q, batchID) {
  const a = Math.abs(q)
  if (batchID.startsWith('CO2E-')) {
    if (a >= 1e6) return `${(q / 1e6).toFixed(3)} tCO2e`
    if (a >= 1e3) return `${(q / 1e3).toFixed(1)} kgCO2e`
    return `${q} gCO2e`
  }
  if (a >= 1e9) return `${(q / 1e9).toFixed(2)} GWh`
  if (a >= 1e6) return `${(q / 1e6).toFixed(2)} MWh`
  if (a >= 1e3) return `${(q / 1e3).toFixed(1)} kWh`
  return `${q} Wh`
}
const DAY1 = '2023-06-01T00:00:00Z'
let srv
let browser
const pages = {}
const state = {}

before(async () => {
  srv = await startServer({ extraLogins: [{ login: 'miner2', org: 'Miner2MSP', role: 'miner', admin: true }] })
  browser = await launch()
})

after(async () => {
  await browser?.close()
  if (srv) {
    if (process.exitCode) console.error(srv.log().slice(-4000))
    await srv.stop()
  }
})

const alertOrDone = (page, form) => page.locator(`form[aria-label="${form}"] .done, form[aria-label="${form}"] .problem`)

async function submitted(page, form, want = /./) {
  const out = alertOrDone(page, form).first()
  await out.waitFor()
  const text = await out.textContent()
  assert.match(text, want, `${form}: ${text}`)
  return text
}

test('the public page and sign-in work without an account', async () => {
  const ctx = await browser.newContext({ baseURL: srv.url, bypassCSP: true })
  const page = await ctx.newPage()
  await page.goto('/miner')
  await page.waitForURL('**/login')
  await check(page, 'login')
  // The keyboard alone signs in: the first field has focus after the skip
  // to it, Tab moves on, Enter submits.
  await page.focus('#login')
  await page.keyboard.type('miner')
  await page.keyboard.press('Tab')
  await page.keyboard.type('not the password')
  await page.keyboard.press('Enter')
  assert.match(await page.locator('.problem').textContent(), /session has ended|sign in|password/i)
  await page.fill('#login', 'miner')
  await page.fill('#password', 'not the password')
  await page.click('button[type=submit]')
  const problem = await page.locator('.problem').textContent()
  assert.match(problem, /session has ended|sign in|password/i)
  await ctx.close()
})

test('a miner registers a site and meters, with the schema checked in the form and the API', async () => {
  const page = (pages.miner = await signIn(browser, srv.url, srv.logins.miner))
  await check(page, 'miner-sites')
  await page.goto('/miner/register')
  await page.waitForSelector('form[aria-label="New site"]')
  const f = page.locator('form[aria-label="New site"]')
  const fill = async (name, v) => f.locator(`[name="${name}"]`).fill(v)
  await fill('site_id', SITE)
  await fill('name', 'Tabernas 3')
  await fill('country', 'ES')
  await fill('grid_region', 'ES')
  await fill('latitude_microdeg', '95000000') // out of range: the form says so before sending
  await fill('longitude_microdeg', '-2390000')
  await fill('capacity_w', '4000000')
  await fill('fleet.hashrate_ths', '40000')
  await fill('fleet.efficiency_mj_per_th', '17500')
  await f.locator('button[type=submit]').click()
  assert.equal(await f.locator('.field-error').first().textContent(), 'Enter at most 90000000.')
  assert.equal(await f.locator('[name=latitude_microdeg]').getAttribute('aria-invalid'), 'true')
  await check(page, 'miner-register-invalid')
  await fill('latitude_microdeg', '37050000')
  await f.locator('button[type=submit]').click()
  await submitted(page, 'New site', /Site registered/)
  // The same ID again: the contract refuses it, and the page says so.
  await f.locator('button[type=submit]').click()
  await until('the conflict', async () => /cannot be done right now/.test((await f.locator('.problem').textContent().catch(() => '')) ?? ''))

  state.load = meterKey()
  state.pv = meterKey()
  const m = page.locator('form[aria-label="New meter"]')
  for (const [id, kind, tech, key] of [
    [`${SITE}-LOAD`, 'consumption', '', state.load],
    [`${SITE}-PV`, 'generation', 'solar_pv_utility', state.pv],
  ]) {
    await m.locator(`select[name=site_id] option[value="${SITE}"]`).waitFor({ state: 'attached' })
    await m.locator('[name=meter_id]').fill(id)
    await m.locator('select[name=site_id]').selectOption(SITE)
    await m.locator('select[name=kind]').selectOption(kind)
    await m.locator('[name=technology]').fill(tech)
    await m.locator('[name=capacity_w]').fill(kind === 'consumption' ? '4000000' : '5000000')
    await m.locator('select[name=interval_minutes]').selectOption('60')
    await m.locator('[name=public_key]').fill(key.pub)
    await m.locator('button[type=submit]').click()
    await submitted(page, 'New meter', /Meter registered/)
  }
  await check(page, 'miner-register')
})

test('the registry approves the site and its meters from its queues', async () => {
  const page = (pages.registry = await signIn(browser, srv.url, srv.logins.registrar))
  for (const id of [SITE, `${SITE}-LOAD`, `${SITE}-PV`]) {
    const approve = page.getByRole('button', { name: `Approve ${id}`, exact: true })
    await approve.waitFor()
    if (id === SITE) await check(page, 'registry-queues')
    await approve.click()
    await page.getByText(`${id} approved.`).waitFor()
  }
})

test('readings arrive from a collector with an API key', async () => {
  const t = await token(srv.url, srv.logins.miner)
  const key = await api(srv.url, 'POST', '/api-keys', { token: t, body: { name: 'collector', scopes: ['readings:write'] } })
  const csv = readingsCSV(
    [
      { id: `${SITE}-LOAD`, key: state.load, energy: () => 3_000_000 },
      { id: `${SITE}-PV`, key: state.pv, energy: (h) => (h >= 6 && h < 20 ? Math.round(4_500_000 * Math.sin((Math.PI * (h - 6)) / 14)) : 0) },
    ],
    DAY1,
    48,
  )
  const sum = await api(srv.url, 'POST', '/readings', { token: key.key, csv })
  assert.equal(sum.accepted, 96, JSON.stringify(sum.results?.slice(0, 3)))
})

test('the oracle attests two days: two batches mint', async () => {
  const page = (pages.oracle = await signIn(browser, srv.url, srv.logins.oracle))
  const f = page.locator('form[aria-label="Attest"]')
  state.batches = []
  for (const [from, to] of [
    ['2023-06-01T00:00', '2023-06-02T00:00'],
    ['2023-06-02T00:00', '2023-06-03T00:00'],
  ]) {
    await f.locator('[name=site_id]').fill(SITE)
    await f.locator('[name=from]').fill(from)
    await f.locator('[name=to]').fill(to)
    const before = await f.locator('.done').textContent().catch(() => '')
    await f.locator('button[type=submit]').click()
    const text = await until('the mint', async () => {
      const t = await f.locator('.done, .problem').first().textContent().catch(() => '')
      return t && t !== before ? t : ''
    })
    const m = /batch (\S+) minted/.exec(text)
    assert.ok(m, text)
    state.batches.push(m[1])
  }
  await check(page, 'oracle-attest')
})

test('the miner sees the hourly matching and its batches and lists part of one', async () => {
  const page = pages.miner
  await page.goto(`/miner/sites/${SITE}`)
  await page.waitForSelector('[data-testid=score]', { timeout: 60_000 })
  const score = await page.locator('[data-testid=score]').textContent()
  assert.match(score, /^\d+\.\d%$/)
  await check(page, 'miner-site-matching')
  await page.goto('/miner/batches')
  await page.getByText(state.batches[1]).first().waitFor()
  await check(page, 'miner-batches')

  await page.goto('/miner/holdings')
  const holding = (b) => page.locator('li.holding', { hasText: b })
  await holding(state.batches[0]).waitFor()
  const tradable = async (b) => Number(/: ([\d,]+) tradable/.exec(await holding(b).locator('p').first().textContent())[1].replace(/,/g, ''))
  state.q1 = await tradable(state.batches[0])
  state.q2 = await tradable(state.batches[1])
  const h1 = holding(state.batches[0])
  await h1.locator('summary', { hasText: 'List for sale' }).click()
  const lf = h1.locator(`form[aria-label="List ${state.batches[0]} for sale"]`)
  await lf.locator('[name=quantity]').fill(String(Math.floor(state.q1 / 2)))
  await lf.locator('[name=price_minor]').fill('125000')
  await lf.locator('button[type=submit]').click()
  await submitted(page, `List ${state.batches[0]} for sale`, /Listed/)
  await check(page, 'miner-holdings-listed')
})

test('a buyer filters the marketplace and reserves; the miner confirms payment, then transfers more', async () => {
  const page = (pages.buyer = await signIn(browser, srv.url, srv.logins.buyer))
  const row = page.locator('tr', { hasText: state.batches[0] })
  // The grid surplus share filter: a percentage, sent as basis points; the
  // gateway decides which listings reach it.
  await page.fill('#f-surplus', '150')
  await page.getByRole('button', { name: 'Apply filters' }).click()
  assert.match(await page.locator('#f-surplus-err').textContent(), /at most 100%/)
  const all = await api(srv.url, 'GET', '/listings?min_surplus_share=10000&limit=100', { token: await token(srv.url, srv.logins.buyer) })
  await page.fill('#f-surplus', '100')
  const [req] = await Promise.all([page.waitForRequest((r) => r.url().includes('/v1/listings?') && r.url().includes('min_surplus_share=')), page.getByRole('button', { name: 'Apply filters' }).click()])
  assert.equal(new URL(req.url()).searchParams.get('min_surplus_share'), '10000')
  if (all.items?.some((l) => l.batch_id === state.batches[0])) await row.waitFor()
  else await until('the listing filtered out', async () => (await row.count()) === 0, 10_000)
  await page.fill('#f-surplus', '')
  await page.fill('#f-country', 'ES')
  await page.getByRole('button', { name: 'Apply filters' }).click()
  await row.waitFor()
  await check(page, 'buyer-marketplace')
  state.listing = (await row.locator('a').first().textContent()).trim()
  await row.getByRole('button', { name: 'Reserve' }).click()
  await page.getByText('Reserved: pay the seller').waitFor()

  const miner = pages.miner
  await miner.bringToFront() // a page in the background does not poll
  const confirm = miner.getByRole('button', { name: 'Confirm payment' })
  await confirm.waitFor({ timeout: 30_000 }).catch(async (e) => {
    await miner.screenshot({ path: 'e2e/screenshots/debug-confirm.png', fullPage: true })
    await page.screenshot({ path: 'e2e/screenshots/debug-reserve.png', fullPage: true })
    console.log('DEBUG', await miner.evaluate(async () => performance.getEntriesByType('resource').filter((e) => e.name.includes('/v1/')).slice(-12).map((e) => `${e.name.replace(location.origin, '')} ${e.startTime.toFixed(0)}+${e.duration.toFixed(0)}`)), await miner.evaluate(() => performance.now()))
    throw e
  })
  await confirm.click()
  await miner.getByText('Payment confirmed').waitFor()

  // Now that the buyer holds units, the miner can also transfer to it.
  const h2 = miner.locator('li.holding', { hasText: state.batches[1] })
  await h2.locator('summary', { hasText: 'Transfer' }).click()
  const tf = h2.locator(`form[aria-label="Transfer from ${state.batches[1]}"]`)
  await tf.locator('[name=to]').fill(srv.logins.buyer.org)
  await tf.locator('[name=quantity]').fill(String(Math.floor(state.q2 / 4)))
  await tf.locator('button[type=submit]').click()
  await submitted(miner, `Transfer from ${state.batches[1]}`, /Transferred/)
  await check(miner, 'miner-holdings')
})

test('the buyer retires parts of two batches into one statement; the public page shows it retired', async () => {
  const page = pages.buyer
  await page.bringToFront()
  await page.goto('/buyer/portfolio')
  const q1 = Math.floor(state.q1 / 2)
  const q2 = Math.floor(state.q2 / 4)
  await until('both holdings', async () => {
    const a = await page.locator(`#qty-${state.batches[0]}`).count()
    const b = await page.locator(`#qty-${state.batches[1]}`).count()
    return a && b
  })
  // Too many units: the form says so beside the field.
  await page.fill(`#qty-${state.batches[0]}`, String(q1 + 1))
  await page.fill('[name=beneficiary]', 'Acme Offsets GmbH')
  await page.fill('[name=jurisdiction]', 'DE-BE')
  await page.selectOption('select[name=purpose]', 'voluntary-offset')
  await page.fill('[name=reporting_year]', '2023')
  await page.fill('[name=reason]', '2023 office electricity')
  await page.getByRole('button', { name: 'Retire into one statement' }).click()
  assert.match(await page.locator(`#qty-${state.batches[0]}-err`).textContent(), /At most/)
  await page.getByRole('button', { name: `Retire all ${q1} of ${state.batches[0]}` }).click()
  await page.fill(`#qty-${state.batches[1]}`, String(Math.floor(q2 / 2)))
  await check(page, 'buyer-portfolio')
  await page.getByRole('button', { name: 'Retire into one statement' }).click()
  const done = await page.locator('.done').textContent()
  const m = /statement (\S+)\./.exec(done)
  assert.ok(m, done)
  state.statement = m[1]
  await page.goto('/buyer/statements')
  await page.getByRole('cell', { name: state.statement, exact: true }).waitFor()
  await check(page, 'buyer-statements')
  // The statement's PDF, from its link.
  const pdfLink = page.getByRole('link', { name: `PDF of statement ${state.statement}` })
  const [download] = await Promise.all([page.waitForEvent('download'), pdfLink.click()])
  const pdf = await readFile(await download.path())
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-', 'the statement download is not a PDF')
  // Its QR code, decoded from the PDF's image as a phone's camera would,
  // is the statement's public page on this gateway.
  const scanned = new URL(pdfQR(pdf))
  assert.equal(scanned.origin, new URL(srv.url).origin, `the QR code's URL ${scanned}`)
  assert.equal(scanned.pathname, `/verify/retirements/${encodeURIComponent(state.statement)}`, `the QR code's URL ${scanned}`)

  // A phone opens it.
  const phone = await browser.newContext({ baseURL: srv.url, bypassCSP: true, viewport: { width: 390, height: 844 }, isMobile: true })
  const pub = await phone.newPage()
  await pub.goto(scanned.href)
  await pub.locator('[data-testid=verdict]').waitFor()
  assert.match(await pub.locator('[data-testid=verdict]').getAttribute('class'), /\bok\b/, 'the statement does not verify')
  assert.match(await pub.locator('[data-testid=verdict]').textContent(), /This statement is genuine: every check holds/)
  assert.equal(await pub.locator('[data-testid=beneficiary]').textContent(), 'Acme Offsets GmbH')
  assert.match(await pub.locator('main').textContent(), /Retired/)
  assert.ok((await pub.locator('main').textContent()).includes(`Statement${state.statement}`), 'the public page shows another statement')
  // Each part with its quantity.
  const [b1, b2] = state.batches
  const parts = (await pub.locator('section[aria-label=Statement] li').allTextContents()).sort()
  const want = [`${quantity(q1, b1)} of batch ${b1}`, `${quantity(Math.floor(q2 / 2), b2)} of batch ${b2}`].sort()
  assert.deepEqual(parts, want, 'the public page lists other parts')
  const width = await pub.evaluate(() => document.documentElement.scrollWidth)
  assert.ok(width <= 390, `the public page is ${width}px wide at phone width`)
  await check(pub, 'public-retirement-phone')
  await pub.goto(`/verify/batches/${state.batches[0]}`)
  await pub.locator('[data-testid=verdict]').waitFor()
  await check(pub, 'public-batch-phone')
  await pub.goto(`/verify/listings/${state.listing}`)
  await pub.locator('[data-testid=verdict]').waitFor()
  assert.match(await pub.locator('main').textContent(), /sold/)
  await check(pub, 'public-listing-phone')
  await phone.close()
})

test('an auditor follows a batch and flags it; the registry resolves the flag', async () => {
  const page = (pages.auditor = await signIn(browser, srv.url, srv.logins.auditor))
  await page.fill('#b-site_id', SITE)
  await page.getByRole('button', { name: 'Search' }).click()
  await page.getByRole('link', { name: state.batches[1], exact: true }).click()
  await page.locator('.timeline').waitFor()
  assert.match(await page.locator('.timeline').textContent(), /Attestation and oracle signatures/)
  assert.equal(await page.locator('.timeline .badge.bad').count(), 0, 'a provenance check fails')
  await check(page, 'auditor-provenance')
  const f = page.locator('form[aria-label="Flag this batch"]')
  await f.locator('[name=reason]').fill('meter calibration certificate expired')
  await f.locator('button[type=submit]').click()
  await submitted(page, 'Flag this batch', /Flag opened/)
  await page.goto('/auditor/flags')
  await page.getByText('meter calibration certificate expired').waitFor()
  await check(page, 'auditor-flags')
  await page.goto('/auditor')
  await check(page, 'auditor-search')

  const reg = pages.registry
  await reg.bringToFront()
  await reg.goto('/registry/flags')
  const rf = reg.locator('form[aria-label^="Resolve flag"]').first()
  await rf.waitFor()
  await check(reg, 'registry-flags')
  await rf.locator('select[name=outcome]').selectOption('dismissed')
  await rf.locator('[name=resolution]').fill('certificate renewed in time')
  await rf.locator('button[type=submit]').click()
  await reg.locator('td .badge', { hasText: 'dismissed' }).waitFor()
})

test('the registry pages: cancellations and withdrawals, oracles and policy, datasets, organisations', async () => {
  const reg = pages.registry
  for (const [path, name, wait] of [
    ['/registry/batches', 'registry-batches', state.batches[0]],
    ['/registry/oracles', 'registry-oracles', 'oracle-a'],
    ['/registry/datasets', 'registry-datasets', 'Registered datasets'],
    ['/registry/organisations', 'registry-organisations', 'Miner2MSP'],
  ]) {
    await reg.goto(path)
    await reg.getByText(wait).first().waitFor()
    await check(reg, name)
  }
  await reg.goto(`/batches/${state.batches[0]}`)
  await reg.locator('.timeline').waitFor()
})

test('another miner organisation sees none of this miner data', async () => {
  const page = await signIn(browser, srv.url, srv.logins.miner2)
  await page.waitForURL('**/miner')
  await page.getByRole('heading', { name: 'Sites', exact: true }).waitFor()
  await page.waitForFunction(() => !document.body.textContent.includes('Loading…'))
  assert.ok(!(await page.locator('main').textContent()).includes(SITE), 'miner2 sees the other miner site')
  await page.goto('/miner/holdings')
  await page.waitForFunction(() => !document.body.textContent.includes('Loading…'))
  const main = await page.locator('main').textContent()
  for (const b of state.batches) assert.ok(!main.includes(b), `miner2 sees holding ${b}`)
  await page.goto(`/miner/sites/${SITE}`)
  await page.locator('.problem').first().waitFor()
  assert.match(await page.locator('.problem').first().textContent(), /not allowed|not found/)
  await page.goto('/buyer')
  await page.waitForURL('**/miner')
  await page.context().close()
})

test('no page has a serious or critical accessibility violation (axe-core)', () => {
  assert.ok(checked.length >= 20, `axe-core ran on ${checked.length} pages only: ${checked.join(', ')}`)
  assert.deepEqual(violations, [])
})
