// A start that must solve the server's proof-of-work challenge first (issue 18), in real
// browsers against the real server with --challenge on: the progress is shown, the two are
// paired and chat; Cancel stops the solver and leaves the landing ready to start again. In
// auto, a start from an address over its account rate proves itself instead of waiting.
import { afterEach, expect, test } from 'vitest'
import { checkA11y, screenshot, serveForTests, startChatting, startServer } from './harness.js'

// Half a million numbers: a few seconds' work here, long enough to see the progress move. One step
// only, so that the accounts of every test from this one address ask the same.
const challengeOn = (maxnumber) => ['--challenge', 'on', '--challenge-steps', String(maxnumber), '--challenge-rates', '2']
const run = serveForTests('challenge', challengeOn(500_000))

const chatLog = (page) => page.getByRole('log')
const progressbar = (page) => page.getByRole('progressbar', { name: "Checking you're not a bot…" })
/** Resolves once the page shows a share tried above 0%. */
const progressMoved = (page) => page.locator('[role=progressbar]:not([aria-valuenow="0"])').waitFor()

const ownServers = []
afterEach(async () => {
  for (const p of run.opened.splice(0)) {
    expect(p.errors, `console errors on ${p.page.url()}`).toEqual([])
    await p.context.close()
  }
  while (ownServers.length) await ownServers.pop().stop()
})

test('two people prove they are not bots, see it happen, are paired and chat', async () => {
  const ann = await run.open(run.url)
  const bob = await run.open(run.url)
  await startChatting(ann.page, 'Ann')
  await startChatting(bob.page, 'Bob')
  for (const p of [ann, bob]) await progressbar(p.page).waitFor()
  // Either may draw an answer found before the first report; the other then shows the progress.
  const seen = await Promise.any([ann, bob].map((p) => progressMoved(p.page).then(() => p)))
  const text = await seen.page.locator('.proving-text').textContent()
  expect(text).toMatch(/^Checking you're not a bot… [1-9]\d?%$/)
  expect(await seen.page.getByText('Connecting…').isVisible(), 'the header contradicts the landing').toBe(false)
  await screenshot(seen.page, 'progress')

  await chatLog(ann.page).getByText("You're now chatting with Bob. Say hi!").waitFor()
  await chatLog(bob.page).getByText("You're now chatting with Ann. Say hi!").waitFor()
  await ann.page.getByLabel('Message to Bob').fill('hi Bob')
  await ann.page.getByLabel('Message to Bob').press('Enter')
  await chatLog(bob.page).getByText('hi Bob').waitFor()
  await bob.page.getByLabel('Message to Ann').fill('hello Ann')
  await bob.page.getByLabel('Message to Ann').press('Enter')
  await chatLog(ann.page).getByText('hello Ann').waitFor()
  await screenshot(ann.page, 'chatting')
})

test('Cancel stops the solver and leaves the landing ready to start', async () => {
  // The hardest challenge there is: minutes of work, so Cancel comes before the answer.
  const hard = startServer(run.binary.bin, challengeOn(100_000_000))
  ownServers.push(hard)
  const cy = await run.open(await hard.ready)
  const solver = cy.page.waitForEvent('worker')
  await startChatting(cy.page, 'Cy')
  await progressbar(cy.page).waitFor()
  await solver
  expect(cy.page.workers()).toHaveLength(1)
  await checkA11y(cy.page, 'proving')
  await screenshot(cy.page, 'proving-hard')

  // The Start button went with the click; the focus is on Cancel, so Enter cancels.
  await cy.page.keyboard.press('Enter')
  await progressbar(cy.page).waitFor({ state: 'hidden' })
  await expect.poll(() => cy.page.workers().length, { message: 'the solver is stopped at once', timeout: 1500 }).toBe(0)
  const start = cy.page.getByRole('button', { name: 'Start chatting' })
  expect(await start.isEnabled()).toBe(true)
  await expect.poll(() => start.evaluate((b) => b === document.activeElement)).toBe(true)
  expect(await cy.page.getByLabel('Nickname').inputValue()).toBe('Cy')
  expect(await cy.page.locator('.toast').count(), 'a cancel is no error').toBe(0)
  await screenshot(cy.page, 'cancelled')
})

test('auto: a start from an address over its account rate proves itself instead of waiting', async () => {
  // One account per address, then one per 10 s: the second visitor's Start comes too soon.
  const busy = startServer(run.binary.bin, ['--account-burst', '1', '--account-rate', '0.1', '--challenge', 'auto'])
  ownServers.push(busy)
  const url = await busy.ready
  const first = await run.open(url)
  await startChatting(first.page, 'First')
  await first.page.getByText('Looking for someone…').waitFor()
  const second = await run.open(url)
  const solver = second.page.waitForEvent('worker')
  await startChatting(second.page, 'Second')
  await solver
  await chatLog(second.page).getByText("You're now chatting with First. Say hi!").waitFor()
  expect(await second.page.locator('.toast').count()).toBe(0)
})
