// An operator runs the site from the admin page while strangers chat, in real browsers against
// the real server: what the operator does shows on the chat pages, and in the audit log.
import { describe, expect, test } from 'vitest'
import { screenshot, serveForTests, startChatting } from './harness.js'

const TOKEN = 'browser-test-admin-token-0123456789'
const OPERATOR = 'Olga'
const STEP_MS = 10000 // how long one step may wait, so that a stuck step names itself within the test's time

// Figures are posted every ping interval: short, so that they change within the test.
const run = serveForTests('admin', ['--admin-token', TOKEN, '--trusted-proxies', '127.0.0.1/32', '--ping-interval', '1s'])

/** A chat page of a person at their own address: the server believes X-Forwarded-For from loopback. */
async function person(address, contextOptions = {}) {
  const p = await run.open(run.url, { ...contextOptions, extraHTTPHeaders: { 'X-Forwarded-For': address } })
  p.page.setDefaultTimeout(STEP_MS)
  return p
}

const chatLog = (page) => page.getByRole('log')

describe('an operator', () => {
  let admin, ann, bob, cy
  // A screen's tab, named with its badge, if any ("Reports 2 open").
  const nav = (name) => admin.page.getByRole('navigation', { name: 'Admin screens' }).getByRole('link', { name: new RegExp(`^${name}( \\d+ open)?$`) })
  const figure = (name) => admin.page.locator('.figure', { has: admin.page.getByText(name, { exact: true }) }).locator('dd')
  const button = (page, name) => page.getByRole('button', { name, exact: true })

  /** Confirms the open dialog's action with a reason. */
  async function confirm(action, reason) {
    const dialog = admin.page.getByRole('dialog')
    await dialog.getByLabel(/Reason/).fill(reason)
    await dialog.getByRole('button', { name: action, exact: true }).click()
    await dialog.waitFor({ state: 'hidden' })
  }

  test('signs in with the keyboard; a wrong token is refused', async () => {
    admin = await run.open(`${run.url}/admin`)
    admin.page.setDefaultTimeout(STEP_MS)
    await admin.page.getByRole('heading', { name: 'Duet admin' }).waitFor()
    await admin.page.getByLabel('Your name').focus()
    await admin.page.keyboard.type(OPERATOR)
    await admin.page.keyboard.press('Tab')
    await admin.page.keyboard.type('not-the-admin-token')
    await admin.page.keyboard.press('Enter')
    await admin.page.getByText('That admin token is not the right one.').waitFor()
    // The browser logs the refused request itself; that one is expected.
    expect(admin.errors).toEqual([expect.stringMatching(/status of 401/)])
    admin.errors.length = 0
    await screenshot(admin.page, 'wrong-token')

    await admin.page.getByLabel('Admin token').fill(TOKEN)
    await admin.page.keyboard.press('Enter')
    await admin.page.getByText(`Signed in as ${OPERATOR}`).waitFor()
    await expect.poll(() => figure('Live sessions').textContent()).toBe('0')
    await screenshot(admin.page, 'overview')
  })

  test('sees the figures change when two people chat; the chat page shows who is online', async () => {
    ann = await person('198.51.100.1')
    bob = await person('198.51.100.2')
    await ann.page.getByText(/\d+ (person|people) online$/).waitFor()
    await startChatting(ann.page, 'Ann')
    await ann.page.getByText(/\d+ (person|people) online, \d+ waiting for a partner/).waitFor()
    await screenshot(ann.page, 'searching-with-count')
    await startChatting(bob.page, 'Bob')
    await chatLog(ann.page).getByText("You're now chatting with Bob. Say hi!").waitFor()
    await ann.page.getByLabel('Message to Bob').fill('hello Bob')
    await ann.page.getByLabel('Message to Bob').press('Enter')
    await chatLog(bob.page).getByText('hello Bob').waitFor()

    await expect.poll(() => figure('Live sessions').textContent(), { timeout: 10000 }).toBe('1')
    await expect.poll(() => figure('Accounts online').textContent(), { timeout: 10000 }).toBe('2')
    await expect.poll(async () => Number(await figure('Messages per minute').textContent()), { timeout: 10000 }).toBeGreaterThan(0)
    await expect.poll(async () => Number(await figure('Matches per minute').textContent()), { timeout: 10000 }).toBe(1)
    await admin.page.locator('tbody tr').first().waitFor()
    await screenshot(admin.page, 'overview-chatting')
  })

  test('ends their session: both chat pages say a moderator removed them', async () => {
    await nav('Sessions').click()
    const row = admin.page.locator('tbody tr', { hasText: 'Ann' })
    await row.getByRole('link', { name: 'Bob' }).waitFor()
    await screenshot(admin.page, 'sessions')
    await row.getByRole('rowheader').getByRole('link').click()
    await admin.page.getByText('Live', { exact: true }).waitFor()
    await button(admin.page, 'End session').click()
    await screenshot(admin.page, 'end-session-dialog')
    await confirm('End session', 'harassment seen in the logs')
    await admin.page.getByText('Ended', { exact: false }).first().waitFor()

    await chatLog(ann.page).getByText('Bob was removed by a moderator.').waitFor()
    await chatLog(bob.page).getByText('Ann was removed by a moderator.').waitFor()
    await screenshot(ann.page, 'session-ended-ann')
  })

  test('finds the one waiting in the queue and kicks them', async () => {
    await button(bob.page, 'New chat').first().click()
    await bob.page.getByText('Looking for someone…').waitFor()
    await nav('Queue').click()
    await admin.page.getByRole('cell', { name: 'Bob', exact: true }).waitFor()
    await screenshot(admin.page, 'queue')
    await admin.page.locator('tbody tr', { hasText: 'Bob' }).getByRole('link').click()
    await admin.page.getByText('Connected to node').waitFor()
    await screenshot(admin.page, 'account')
    await button(admin.page, 'Kick').click()
    await confirm('Kick', 'please calm down')
    await admin.page.getByText(/^Kicked/).waitFor()

    await bob.page.getByRole('alert').getByText('A moderator removed you from Duet. Reason: please calm down').waitFor()
    await screenshot(bob.page, 'kicked')
  })

  test('reviews a report from the chat page and accepts it with an address ban', async () => {
    cy = await person('203.0.113.9')
    await button(ann.page, 'New chat').first().click()
    await startChatting(cy.page, 'Cy')
    await chatLog(ann.page).getByText("You're now chatting with Cy. Say hi!").waitFor()
    await cy.page.getByLabel('Message to Ann').fill('buy cheap followers, write to me')
    await cy.page.getByLabel('Message to Ann').press('Enter')
    await chatLog(ann.page).getByText('buy cheap followers, write to me').waitFor()
    await button(ann.page, 'Report').click()
    await ann.page.getByLabel('Spam or advertising').check()
    await ann.page.getByLabel(/Anything else/).fill('selling followers')
    await button(ann.page, 'Report and end chat').click()
    await chatLog(ann.page).getByText('Your report was sent and the chat has ended.').waitFor()

    // The overview counts the open report, and so does the Reports tab.
    await nav('Overview').click()
    await figure('Open reports').getByText('1', { exact: true }).waitFor()
    await admin.page.getByRole('link', { name: 'Reports 1 open', exact: true }).waitFor()
    await screenshot(admin.page, 'overview-open-report')
    await nav('Reports').click()
    await admin.page.getByRole('cell', { name: 'selling followers' }).waitFor()
    await screenshot(admin.page, 'reports')
    await admin.page.getByRole('link', { name: /^Review / }).click()
    const evidence = admin.page.getByRole('list', { name: 'Evidence' })
    await evidence.getByText('buy cheap followers, write to me').waitFor()
    expect(await evidence.locator('li').last().locator('.meta').textContent()).toMatch(/^Reported \(\d+\) · /)
    await admin.page.getByLabel('Also ban the reported client').check()
    await admin.page.getByLabel(/^Its address/).check()
    await admin.page.getByLabel('For how long').fill('72h')
    await admin.page.getByLabel(/^Note/).fill('a follower seller')
    await screenshot(admin.page, 'report-review')
    await button(admin.page, 'Accept and ban').click()
    await admin.page.getByText(`by ${OPERATOR}`).waitFor()
    await admin.page.getByText('accepted', { exact: true }).waitFor()

    // The public reason, the report's category, and never the operator's private note.
    const banned = (p) => p.getByRole('alert').filter({ hasText: "You can't use Duet right now" })
    await banned(cy.page).getByText('Reason: spam').waitFor()
    await banned(cy.page).getByText(/paused your access until/).waitFor()
    expect(await cy.page.getByText('a follower seller').count()).toBe(0)
    await screenshot(cy.page, 'banned')
    // After a reload the ban still stands, with no way to start.
    await cy.page.reload()
    await banned(cy.page).getByText('Reason: spam').waitFor()
    expect(await cy.page.getByRole('button', { name: /Start/ }).count()).toBe(0)
    // A new visitor from the banned address is told so at Start, not that Duet is unreachable.
    const cyrus = await person('203.0.113.9')
    await startChatting(cyrus.page, 'Cyrus')
    await banned(cyrus.page).getByText('Reason: spam').waitFor()
    expect(await cyrus.page.getByText('Looking for someone…').count()).toBe(0)
    expect(await cyrus.page.getByText(/Could not reach Duet/).count()).toBe(0)
    await screenshot(cyrus.page, 'banned-start-again')

    await nav('Bans').click()
    // The bans table keeps the public reason and the private note apart.
    await admin.page.getByRole('cell', { name: 'a follower seller' }).waitFor()
    await admin.page.getByRole('columnheader', { name: 'Reason (the banned person sees it)' }).waitFor()
    await screenshot(admin.page, 'bans')
  })

  test('broadcasts a notice that the chat page shows', async () => {
    await nav('Broadcast').click()
    await admin.page.getByLabel('Notice', { exact: true }).fill('Maintenance at 22:00 UTC')
    await admin.page.getByLabel('Warning').check()
    await button(admin.page, 'Send to everyone').click()
    await admin.page.getByText('Sent to everyone connected').waitFor()
    await ann.page.getByRole('region', { name: 'Notice from the moderators' }).getByText('Maintenance at 22:00 UTC').waitFor()
    await screenshot(ann.page, 'notice')
  })

  test('pauses matching: a new chat gets the readable code-10 message', async () => {
    await nav('Overview').click()
    await button(admin.page, 'Pause matching').click()
    await confirm('Pause matching', 'spam wave')
    await admin.page.getByText('Matching is paused: nobody is paired until it is resumed.').waitFor()
    await screenshot(admin.page, 'paused')

    await button(ann.page, 'New chat').first().click()
    await ann.page.getByText('The moderators have paused new chats for a while. Please try again later.').waitFor()
    await screenshot(ann.page, 'paused-chat-page')

    await button(admin.page, 'Resume matching').click()
    await confirm('Resume matching', 'wave over')
    await admin.page.getByText('On: people are being paired.').waitFor()
  })

  test('finds every action in the audit log, newest first', async () => {
    await nav('Audit log').click()
    await admin.page.locator('tbody tr').first().waitFor()
    const rows = await admin.page.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)))
    expect(rows.map(([, operator, , action, , reason]) => [operator, action, reason])).toEqual([
      [OPERATOR, 'resume-matching', 'wave over'],
      [OPERATOR, 'pause-matching', 'spam wave'],
      [OPERATOR, 'broadcast', 'Maintenance at 22:00 UTC'],
      [OPERATOR, 'ban', 'spam'],
      [OPERATOR, 'resolve-report', 'a follower seller'],
      [OPERATOR, 'kick', 'please calm down'],
      [OPERATOR, 'end-session', 'harassment seen in the logs'],
    ])
    await screenshot(admin.page, 'audit')
  })
})

test('the admin page fits a phone in dark mode', async () => {
  const phone = await run.open(`${run.url}/admin`, { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, colorScheme: 'dark' })
  await phone.page.getByLabel('Your name').fill(OPERATOR)
  await phone.page.getByLabel('Admin token').fill(TOKEN)
  await phone.page.getByRole('button', { name: 'Sign in' }).tap()
  for (const screen of ['Overview', 'Reports', 'Audit log']) {
    await phone.page.getByRole('navigation', { name: 'Admin screens' }).getByRole('link', { name: screen }).tap()
    await phone.page.locator('.admin-section').first().waitFor()
    const width = await phone.page.evaluate(() => document.documentElement.scrollWidth)
    expect(width, `${screen} scrolls sideways`).toBeLessThanOrEqual(360)
  }
  await screenshot(phone.page, 'phone-dark-audit')
})

test('the chat page does not download the admin screens', async () => {
  const visitor = await person('192.0.2.50')
  const scripts = (page) => page.evaluate(() => performance.getEntriesByType('resource').map((r) => r.name).filter((n) => n.endsWith('.js')))
  await visitor.page.getByRole('heading', { name: 'Talk to a stranger' }).waitFor()
  const chat = await scripts(visitor.page)
  await visitor.page.goto(`${run.url}/admin`)
  await visitor.page.getByRole('heading', { name: 'Duet admin' }).waitFor()
  const onlyAdmin = (await scripts(visitor.page)).filter((s) => !chat.includes(s))
  expect(onlyAdmin.length, 'scripts the admin page loads and the chat page does not').toBeGreaterThan(0)
})
