// What the browser tests run on: the real duet binary, built from this checkout with the built
// page embedded, started on a free loopback port with the memory engine, and Debian's chromium.
import { spawn, execFile } from 'node:child_process'
import { mkdtemp, mkdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { createServer } from 'node:net'
import { createRequire } from 'node:module'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { chromium } from 'playwright-core'
import { afterAll, afterEach, beforeAll, expect } from 'vitest'

const frontend = resolve(import.meta.dirname, '../..')
const repo = resolve(frontend, '..')
export const outputDir = join(frontend, 'test-output')

/** Builds bin into a temporary folder; fails when the page was not built first. */
export async function buildServer() {
  await stat(join(frontend, 'dist/index.html')).catch(() => {
    throw new Error('frontend/dist is missing: run `npm run build` (or `make test`) first')
  })
  const dir = await mkdtemp(join(tmpdir(), 'duet-browser-'))
  const bin = join(dir, 'duet')
  await promisify(execFile)('go', ['build', '-o', bin, './cmd/duet'], { cwd: repo })
  return { bin, remove: () => rm(dir, { recursive: true, force: true }) }
}

/** A loopback port free at the time of asking, for a server whose origin must be known first. */
export function freePort() {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolvePromise(port))
    })
  })
}

/**
 * Starts `duet serve` (on a free port unless args choose one) and resolves with its base URL once
 * it serves. Each server keeps its bans and reports in a data directory of its own, removed when
 * it stops, and closes its connections at once when stopped (no load balancer to drain for).
 */
export function startServer(bin, args = []) {
  const dataDir = mkdtempSync(join(tmpdir(), 'duet-data-'))
  const proc = spawn(
    bin,
    ['serve', '--listen', '127.0.0.1:0', '--engine', 'memory', '--data-dir', dataDir, '--drain-delay', '0s', '--drain-spread', '0s', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  proc.on('exit', () => rmSync(dataDir, { recursive: true, force: true }))
  let log = ''
  const ready = new Promise((resolvePromise, reject) => {
    proc.stderr.on('data', (chunk) => {
      log += chunk
      const m = /duet is serving.*addr=(\S+)/.exec(log)
      if (m) resolvePromise(`http://${m[1]}`)
    })
    proc.on('exit', (code) => reject(new Error(`duet serve exited with ${code}:\n${log}`)))
  })
  return {
    ready,
    log: () => log,
    stop: () =>
      new Promise((done) => {
        if (proc.exitCode !== null) return done()
        proc.on('exit', done)
        proc.kill('SIGTERM')
      }),
  }
}

export function launchBrowser() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] })
}

/**
 * Opens a page in a new browser context, collecting its console errors and uncaught
 * exceptions in errors; a dialog (the warning before leaving a chat) is accepted.
 */
export async function openPage(browser, url, contextOptions = {}) {
  const context = await browser.newContext(contextOptions)
  const page = await context.newPage()
  const errors = []
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()))
  page.on('pageerror', (e) => errors.push(e.message))
  page.on('dialog', (d) => d.accept())
  await page.goto(url)
  return { context, page, errors }
}

let shots = outputDir
/** Empties the test file's screenshot folder (test-output/<folder>), so that it holds this run's steps only. */
export async function resetOutput(folder) {
  shots = join(outputDir, folder)
  await rm(shots, { recursive: true, force: true })
  await mkdir(shots, { recursive: true })
}

let shot = 0
/** Saves a screenshot named after the step, numbered in the order taken. */
export async function screenshot(page, step) {
  const name = `${String(++shot).padStart(2, '0')}-${step}.png`
  await page.screenshot({ path: join(shots, name), fullPage: true })
  return name
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/**
 * Checks the page as it is now with axe-core: no serious or critical violation. The script is
 * evaluated, not added as a tag, so that the page's Content-Security-Policy does not stop it.
 */
export async function checkA11y(page, view) {
  await page.evaluate(axeSource)
  const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations)
  const bad = violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
  expect(bad, `axe-core on the ${view} view`).toEqual([])
}

/** Fills the landing form and presses Start. */
export async function startChatting(page, nickName, interests = []) {
  await page.getByLabel('Nickname').fill(nickName)
  for (const tag of interests) {
    await page.getByLabel(/Interests/).fill(tag)
    await page.getByLabel(/Interests/).press('Enter')
  }
  await page.getByLabel(/I am 18 or older/).check()
  await page.getByRole('button', { name: 'Start chatting' }).click()
}

/**
 * Runs what a test file's browser tests need around them: the freshly built binary serving with
 * args on a free port, and one browser. After each test, every page opened through run.open (or
 * pushed on run.opened) must have logged no console error and thrown no exception; with
 * o.closeAfterEach its pages are closed then, so that a long file does not keep every visitor of
 * every test connected. Screenshots go to test-output/<folder>.
 */
export function serveForTests(folder, args, o = {}) {
  const run = { binary: null, server: null, url: '', browser: null, opened: [] }
  run.open = async (url, contextOptions) => {
    const p = await openPage(run.browser, url, contextOptions)
    run.opened.push(p)
    return p
  }
  beforeAll(async () => {
    await resetOutput(folder)
    run.binary = await buildServer()
    run.server = startServer(run.binary.bin, args)
    run.url = await run.server.ready
    run.browser = await launchBrowser()
  })
  afterAll(async () => {
    await run.browser?.close()
    await run.server?.stop()
    await run.binary?.remove()
  })
  afterEach(async () => {
    for (const p of run.opened) expect(p.errors, `console errors on ${p.page.url()}`).toEqual([])
    if (o.closeAfterEach) for (const p of run.opened.splice(0)) await p.context.close()
  })
  return run
}

/**
 * Waits, when less than `ms` is left of the current minute, until the next one begins: for a
 * test that does something and then reads this minute's figure of it.
 */
export async function untilEarlyInAMinute(ms) {
  const left = 60000 - (Date.now() % 60000)
  if (left < ms) await new Promise((resolve) => setTimeout(resolve, left + 100))
}
