// The operator's switch for the bot challenge at account creation: in a real browser against the
// real server, with a visitor's client that solves the puzzle (or does not) on a WebSocket.
import { createHash } from 'node:crypto'
import { expect, test } from 'vitest'
import WebSocket from 'ws'
import { checkA11y, screenshot, serveForTests, untilEarlyInAMinute } from './harness.js'

const TOKEN = 'browser-test-admin-token-0123456789'
const OPERATOR = 'Olga'
const STEP_MS = 10000

const run = serveForTests('adminchallenge', ['--admin-token', TOKEN, '--ping-interval', '1s'])

/** A new visitor's client on the protocol: its frames are answered in order. */
async function visitor() {
  const ws = new WebSocket(`${run.url.replace(/^http/, 'ws')}/ws`, { origin: run.url })
  const replies = []
  const waiting = []
  ws.on('message', (data) => {
    const frame = JSON.parse(data)
    if (frame.cmd !== 'CRT_ACCOUNT') return
    if (waiting.length) waiting.shift()(frame)
    else replies.push(frame)
  })
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  return {
    ask(frame) {
      ws.send(JSON.stringify(frame))
      return new Promise((resolve) => (replies.length ? resolve(replies.shift()) : waiting.push(resolve)))
    },
    close: () => ws.close(),
  }
}

/** The number whose hash with the salt is the challenge, as a visitor's browser finds it. */
function solve({ challenge, salt, maxnumber }) {
  for (let n = 0; n <= maxnumber; n++) {
    if (createHash('sha256').update(salt + n).digest('hex') === challenge) return n
  }
  throw new Error('the challenge has no solution')
}

const proofOf = (c, number) => ({ algorithm: c.algorithm, challenge: c.challenge, number, salt: c.salt, signature: c.signature })

test('an operator turns the challenge on with a reason; new visitors must solve it; the overview and the audit log show it', async () => {
  const admin = await run.open(`${run.url}/admin`)
  const page = admin.page
  page.setDefaultTimeout(STEP_MS)
  await page.getByLabel('Your name').fill(OPERATOR)
  await page.getByLabel('Admin token').fill(TOKEN)
  await page.getByRole('button', { name: 'Sign in' }).click()

  const section = page.getByRole('region', { name: 'Bot challenge' })
  const fact = (name) => section.locator('.facts dt', { hasText: new RegExp(`^${name}$`) }).locator('xpath=following-sibling::dd[1]')
  const figure = (name) => section.locator('.figure', { has: page.getByText(name, { exact: true }) }).locator('dd')
  await expect.poll(() => fact('In force').textContent()).toMatch(/^Auto: puzzles only while new accounts arrive faster than usual/)
  expect(await fact('Now').textContent()).toBe('New visitors are not asked: new accounts arrive at an ordinary rate. An address creating accounts fast still is.')
  const firstStep = (await section.locator('tbody tr').first().locator('td').nth(1).textContent()).trim()

  await section.getByRole('button', { name: 'Change mode…' }).click()
  const dialog = page.getByRole('dialog', { name: 'Change the bot challenge' })
  await dialog.getByLabel(/^On: every new visitor waits a moment/).check()
  await dialog.getByLabel('Reason (kept in the audit log)').fill('bot wave from one network')
  await screenshot(page, 'challenge-dialog')
  await checkA11y(page, 'bot challenge dialog')
  await dialog.getByRole('button', { name: 'Change mode' }).click()
  await dialog.waitFor({ state: 'hidden' })
  await expect.poll(() => fact('In force').textContent()).toMatch(/^On: every new visitor waits a moment/)
  expect(await fact("The nodes' setting").textContent()).toBe('Auto; an operator changed it (see the audit log).')
  expect(await fact('Now').textContent()).toBe(`New visitors are asked to solve a puzzle of difficulty ${firstStep}.`)

  // A new visitor is asked to solve a puzzle, solves it and gets an account; another sends a
  // wrong number and is asked again. The figures of the last minute count them.
  await untilEarlyInAMinute(20000)
  const tom = await visitor()
  const asked = await tom.ask({ cmd: 'CRT_ACCOUNT', nickName: 'Tom' })
  expect(asked.code).toBe(11)
  expect(asked.challenge.maxnumber.toLocaleString('en')).toBe(firstStep)
  const made = await tom.ask({ cmd: 'CRT_ACCOUNT', nickName: 'Tom', proof: proofOf(asked.challenge, solve(asked.challenge)) })
  expect(made.code).toBe(0)
  const bot = await visitor()
  const botAsked = await bot.ask({ cmd: 'CRT_ACCOUNT', nickName: 'Bot' })
  const wrong = (solve(botAsked.challenge) + 1) % (botAsked.challenge.maxnumber + 1)
  expect((await bot.ask({ cmd: 'CRT_ACCOUNT', nickName: 'Bot', proof: proofOf(botAsked.challenge, wrong) })).code).toBe(11)
  tom.close()
  bot.close()

  await expect.poll(() => figure('Solved, last minute').textContent(), { timeout: STEP_MS }).toBe('1')
  expect(await figure('Failed, last minute').textContent()).toBe('1')
  expect(await figure('Challenges, last minute').textContent()).toBe('3')
  await page.getByRole('region', { name: 'The last hour' }).getByRole('button', { name: 'Refresh' }).click()
  const chart = page.locator('.minute-chart', { has: page.getByText('Challenges per minute', { exact: true }) })
  await expect.poll(async () => (await chart.locator('.chart-now').textContent()).trim(), { timeout: 20000 }).toBe('3')
  await screenshot(page, 'challenge-on')
  await checkA11y(page, 'overview with the bot challenge on')

  await page.getByRole('navigation', { name: 'Admin screens' }).getByRole('link', { name: 'Audit log' }).click()
  const entry = page.locator('tbody tr', { hasText: 'challenge-mode' })
  await entry.waitFor()
  expect(await entry.locator('td').allTextContents()).toEqual([expect.any(String), OPERATOR, expect.any(String), 'challenge-mode', 'challenge:on', 'bot wave from one network', ''])
  await screenshot(page, 'challenge-audit')
})
