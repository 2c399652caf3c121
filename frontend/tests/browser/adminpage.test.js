// The operator's view of the last hour, finding accounts by nickname, what a ban cuts off before
// it is made, and the site's own texts on the chat page: in real browsers against the real
// server.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { screenshot, serveForTests, startChatting, untilEarlyInAMinute } from './harness.js'

const TOKEN = 'browser-test-admin-token-0123456789'
const OPERATOR = 'Olga'
const STEP_MS = 10000

const texts = mkdtempSync(join(tmpdir(), 'duet-site-'))
const rulesFile = join(texts, 'rules.txt')
writeFileSync(rulesFile, 'Night Owls is for grown-ups who like a quiet talk.\n\n- Be kind to night owls.\n- No selling of anything.\n')
const privacyFile = join(texts, 'privacy.txt')
writeFileSync(privacyFile, 'We keep nothing after your chat ends.\n')

const run = serveForTests('adminpage', [
  ...['--admin-token', TOKEN, '--trusted-proxies', '127.0.0.1/32', '--ping-interval', '1s'],
  ...['--site-name', 'Night Owls', '--site-contact', 'hello@owls.example', '--site-abuse', 'https://owls.example/abuse'],
  ...['--site-rules-file', rulesFile, '--site-privacy-file', privacyFile],
])

/** A chat page of a person at their own address: the server believes X-Forwarded-For from loopback. */
async function person(address) {
  const p = await run.open(run.url, { extraHTTPHeaders: { 'X-Forwarded-For': address } })
  p.page.setDefaultTimeout(STEP_MS)
  return p
}

test("the chat page shows the site's name, rules, privacy notice, contact and abuse address", async () => {
  const visitor = await person('192.0.2.10')
  const page = visitor.page
  await page.getByRole('link', { name: 'Night Owls, home' }).waitFor()
  await expect.poll(() => page.title()).toBe('Night Owls')
  const footer = page.locator('footer')
  expect(await footer.getByRole('link', { name: 'Contact' }).getAttribute('href')).toBe('mailto:hello@owls.example')
  expect(await footer.getByRole('link', { name: 'Report abuse' }).getAttribute('href')).toBe('https://owls.example/abuse')
  await footer.getByRole('button', { name: 'Rules' }).click()
  const dialog = page.getByRole('dialog', { name: 'Rules' })
  await dialog.getByText('Night Owls is for grown-ups who like a quiet talk.').waitFor()
  expect(await dialog.getByRole('listitem').allTextContents()).toEqual(['Be kind to night owls.', 'No selling of anything.'])
  expect(await dialog.getByText('You must be 18 or older.').count()).toBe(0)
  expect(await dialog.getByRole('link', { name: 'https://owls.example/abuse' }).count()).toBe(1)
  await screenshot(page, 'site-rules')
  await dialog.getByRole('button', { name: 'Close' }).click()
  await footer.getByRole('button', { name: 'Privacy' }).click()
  await page.getByRole('dialog', { name: 'Privacy' }).getByText('We keep nothing after your chat ends.').waitFor()
  await page.getByRole('dialog', { name: 'Privacy' }).getByRole('link', { name: 'hello@owls.example' }).waitFor()
  await page.getByRole('dialog', { name: 'Privacy' }).getByRole('button', { name: 'Close' }).click()
  // In German too: the site's name in the built-in sentences.
  await page.getByLabel('Language').selectOption('de')
  await page.getByRole('link', { name: 'Night Owls, Startseite' }).waitFor()
})

describe('an operator', () => {
  let admin, ann, anna, bob
  const nav = (name) => admin.page.getByRole('navigation', { name: 'Admin screens' }).getByRole('link', { name, exact: true })
  const chart = (name) => admin.page.locator('.minute-chart', { has: admin.page.getByText(name, { exact: true }) })

  test('sees the last hour drawn once people chat', async () => {
    admin = await run.open(`${run.url}/admin`)
    admin.page.setDefaultTimeout(STEP_MS)
    await admin.page.getByLabel('Your name').fill(OPERATOR)
    await admin.page.getByLabel('Admin token').fill(TOKEN)
    await admin.page.getByRole('button', { name: 'Sign in' }).click()
    await admin.page.getByText(`Signed in as ${OPERATOR}`).waitFor()

    ann = await person('198.51.100.7')
    anna = await person('198.51.100.7') // the same address: a household, or one person's two tabs
    bob = await person('198.51.100.8')
    await startChatting(ann.page, 'Ann')
    await startChatting(bob.page, 'Bob')
    await ann.page.getByLabel('Message to Bob').waitFor()
    // The chart's figure is this minute's: the messages and the reading of them fall in one.
    await untilEarlyInAMinute(25000)
    for (const text of ['hello Bob', 'how are you', 'nice night']) {
      await ann.page.getByLabel('Message to Bob').fill(text)
      await ann.page.getByLabel('Message to Bob').press('Enter')
      await bob.page.getByRole('log').getByText(text).waitFor()
    }
    await startChatting(anna.page, 'Anna')

    await admin.page.getByRole('button', { name: 'Refresh' }).nth(1).click()
    await expect.poll(async () => (await chart('Messages per minute').locator('.chart-now').textContent()).trim(), { timeout: 20000 }).toBe('3')
    await expect.poll(async () => (await chart('Connections').locator('.chart-now').textContent()).trim(), { timeout: 20000 }).toBe('3')
    for (const name of ['Connections', 'Waiting', 'Live sessions', 'Messages per minute', 'Matches per minute']) {
      expect(await chart(name).locator('.chart-line').getAttribute('d'), `${name} is drawn`).toMatch(/^M/)
    }
    expect(await chart('Waiting').locator('svg').getAttribute('aria-label')).toBe('Waiting, the last hour: 1 this minute, at most 1.')
    await screenshot(admin.page, 'overview-last-hour')
  })

  test('finds accounts by a part of their nickname', async () => {
    await nav('Accounts').click()
    await admin.page.getByLabel('Nickname', { exact: true }).fill('AN')
    await admin.page.getByRole('button', { name: 'Find' }).click()
    await admin.page.getByText('2 accounts found.').waitFor()
    const names = await admin.page.locator('tbody th').allTextContents()
    expect(names.sort()).toEqual(['Ann', 'Anna'])
    await screenshot(admin.page, 'accounts-by-nickname')
    await admin.page.locator('tbody tr', { hasText: 'Anna' }).getByRole('link').click()
    await admin.page.getByText('Connected to node').waitFor()
  })

  test('sees how many connected accounts an address ban cuts off, then bans; the bans name the operator', async () => {
    await admin.page.getByRole('button', { name: 'Ban…' }).click()
    const dialog = admin.page.getByRole('dialog')
    // Its address, by default, as from a report: Ann and Anna, not Bob.
    await dialog.getByText('It cuts off 2 accounts connected now: everyone connected from there, not only the one you mean.').waitFor()
    await dialog.getByLabel('This account').check()
    await dialog.getByText('It cuts off 1 account connected now.').waitFor()
    await dialog.getByLabel(/^Its address/).check()
    await dialog.getByText('It cuts off 2 accounts connected now: everyone connected from there, not only the one you mean.').waitFor()
    await dialog.getByLabel('Reason shown to the person').fill('spam')
    await dialog.getByLabel(/^Private note/).fill('two tabs selling followers')
    await screenshot(admin.page, 'ban-dialog-impact')
    await dialog.getByRole('button', { name: 'Ban', exact: true }).click()
    await dialog.waitFor({ state: 'hidden' })
    for (const p of [ann, anna]) await p.page.getByText("You can't use Night Owls right now").waitFor()
    expect(await bob.page.getByText(/paused your access/).count()).toBe(0)

    await nav('Bans').click()
    const row = admin.page.locator('tbody tr', { hasText: 'two tabs selling followers' })
    expect(await row.locator('td').nth(3).textContent()).toBe(OPERATOR)
    await screenshot(admin.page, 'bans-operator')
  })
})
