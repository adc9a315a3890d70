// The browser tests' harness: a real `greenmint serve` on a temporary data
// directory (the embedded default, no simulator), Debian's Chromium driven
// by playwright-core, axe-core on every page, a screenshot of every page.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { chromium } from 'playwright-core'

const require = createRequire(import.meta.url)
export const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')
export const shots = resolve(import.meta.dirname, 'screenshots')
export const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium'
export const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-dev-shm-usage']

/** startServer runs `greenmint serve` on a new data directory and returns its URL and logins. */
export async function startServer({ extraLogins = [], simulator = false } = {}) {
  const bin = process.env.GREENMINT_BIN ?? resolve(import.meta.dirname, '../../bin/greenmint')
  const dir = mkdtempSync(join(tmpdir(), 'greenmint-e2e-'))
  const data = join(dir, 'data')
  let srv = await serve(bin, data, simulator)
  if (extraLogins.length) {
    // SeedUsers makes every user of the logins file: add ours, start again.
    await srv.stop()
    const path = join(data, 'logins.json')
    const logins = JSON.parse(readFileSync(path, 'utf8'))
    for (const l of extraLogins) logins.push({ ...l, password: randomBytes(18).toString('base64url') })
    writeFileSync(path, JSON.stringify(logins, null, 2), { mode: 0o600 })
    srv = await serve(bin, data, simulator)
  }
  const logins = Object.fromEntries(JSON.parse(readFileSync(join(data, 'logins.json'), 'utf8')).map((l) => [l.login, l]))
  return {
    url: srv.url,
    logins,
    log: () => srv.log(),
    stop: async () => {
      await srv.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function serve(bin, data, simulator) {
  const args = ['--json', 'serve', '--dir', data, '--listen', '127.0.0.1:0', ...(simulator ? ['--simulator-sites', '1', '--simulator-every', '1s'] : ['--no-simulator'])]
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stderr.on('data', (d) => (err += d))
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`greenmint serve did not start in 120 s:\n${err}`)), 120_000)
    child.on('exit', (code) => fail(new Error(`greenmint serve exited ${code}:\n${err}`)))
    child.stdout.on('data', (d) => {
      out += d
      try {
        const banner = JSON.parse(out)
        clearTimeout(timer)
        ok({
          url: banner.url,
          log: () => err,
          stop: () =>
            new Promise((done) => {
              child.removeAllListeners('exit')
              child.on('exit', () => done())
              child.kill('SIGTERM')
            }),
        })
      } catch {
        // not the whole banner yet
      }
    })
  })
}

export async function launch() {
  mkdirSync(shots, { recursive: true })
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs })
}

/** api calls the gateway as a script would (bearer token or API key). */
export async function api(url, method, path, { token, body, csv } = {}) {
  const headers = {}
  if (token) headers.Authorization = `Bearer ${token}`
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (csv !== undefined) headers['Content-Type'] = 'text/csv'
  const r = await fetch(url + '/v1' + path, { method, headers, body: csv ?? (body !== undefined ? JSON.stringify(body) : undefined) })
  const text = await r.text()
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`)
  return text ? JSON.parse(text) : null
}

export async function token(url, l) {
  return (await api(url, 'POST', '/auth/login', { body: { login: l.login, password: l.password } })).access_token
}

/** meterKey is a meter's new Ed25519 key: the public half in base64 (as MeterBody.public_key) and a signer. */
export function meterKey() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64')
  return { pub, sign: (msg) => sign(null, Buffer.from(msg), privateKey).toString('base64') }
}

/** readingsCSV is hourly signed readings (greenmint.ReadingSigningBytes) as POST /v1/readings CSV. */
export function readingsCSV(meters, start, hours) {
  const lines = ['meter_id,seq,start,end,energy_wh,register_wh,signature']
  for (const m of meters) {
    let reg = 0
    for (let h = 0; h < hours; h++) {
      const t0 = new Date(Date.parse(start) + h * 3600_000)
      const t1 = new Date(t0.getTime() + 3600_000)
      const s = t0.toISOString().replace('.000Z', 'Z')
      const e = t1.toISOString().replace('.000Z', 'Z')
      const wh = m.energy(t0.getUTCHours())
      reg += wh
      const canonical = `{"meter_id":"${m.id}","seq":${h + 1},"start":"${s}","end":"${e}","energy_wh":${wh},"register_wh":${reg}}`
      lines.push([m.id, h + 1, s, e, wh, reg, m.key.sign(`greenmint/reading/v1\n${canonical}`)].join(','))
    }
  }
  return lines.join('\n') + '\n'
}

/** signIn opens a new browser context signed in as login l. */
export async function signIn(browser, url, l, opts = {}) {
  const ctx = await browser.newContext({ baseURL: url, bypassCSP: true, viewport: { width: 1280, height: 900 }, ...opts })
  const page = await ctx.newPage()
  page.setDefaultTimeout(30_000)
  const errors = []
  page.on('pageerror', (e) => errors.push(e.message))
  page.errors = errors
  await page.goto('/login')
  await page.fill('#login', l.login)
  await page.fill('#password', l.password)
  await page.click('button[type=submit]')
  await page.waitForURL((u) => !u.pathname.startsWith('/login'))
  return page
}

export const violations = []
export const checked = []

/** check waits for the page to settle, saves its screenshot and runs axe-core on it. */
export async function check(page, name) {
  await page.bringToFront()
  await page.waitForSelector('h1')
  await page.waitForFunction(() => ![...document.querySelectorAll('[role=status]')].some((e) => /Loading|Reading the hours|Checking/.test(e.textContent ?? '')), null, { timeout: 60_000 })
  await page.waitForTimeout(300)
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true })
  await page.addScriptTag({ content: axeSource })
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
  )
  checked.push(name)
  if (process.env.E2E_AXE_VERBOSE) console.log(name, result.violations.map((v) => `${v.id}:${v.impact}`))
  for (const v of result.violations) {
    if (v.impact === 'serious' || v.impact === 'critical') {
      violations.push(`${name}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`)
    }
  }
}

/** until polls f (reloading nothing: the pages poll) until it returns a truthy value. */
export async function until(what, f, ms = 30_000) {
  const end = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}
