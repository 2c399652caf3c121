// The page as people use it (issue 12): pasted interests, receipts that survive a reload, a
// report after the partner left, a server restart, a ban, an operator's notice, a start that
// must wait, the count of who is online, and a second language. Every view is checked with
// axe-core.
import { afterEach, describe, expect, test } from 'vitest'
import { checkA11y, freePort, screenshot, serveForTests, startChatting, startServer } from './harness.js'

const run = serveForTests('real-use', ['--account-burst', '100'], { closeAfterEach: true })
const ADMIN_TOKEN = 'browser-test-admin-token'

const chatLog = (page) => page.getByRole('log')

// Servers a test starts for itself (a restart, an operator's action), stopped after it.
const ownServers = []
async function ownServer(args) {
  const s = startServer(run.binary.bin, ['--account-burst', '100', ...args])
  ownServers.push(s)
  return s.ready
}
afterEach(async () => {
  // Pages of a server that goes away would log every reconnection refused: close them first.
  while (ownServers.length) {
    const s = ownServers.pop()
    const url = await s.ready.catch(() => null)
    for (const p of run.opened.filter((p) => url && p.page.url().startsWith(url))) {
      expect(p.errors, `console errors on ${p.page.url()}`).toEqual([])
      await p.context.close()
      run.opened.splice(run.opened.indexOf(p), 1)
    }
    await s.stop()
  }
})

/** Calls the admin API of the server at url as operator "tester". */
async function admin(url, method, path, body) {
  const res = await fetch(`${url}/admin/api/${path}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'X-Duet-Operator': 'tester', 'Content-Type': 'application/json' },
    body: body && JSON.stringify(body),
  })
  expect(res.ok, `${method} ${path}: ${res.status} ${await res.clone().text()}`).toBe(true)
  return res.status === 204 ? null : res.json()
}

/** Two new visitors at url, paired with each other. */
async function pair(url, a = 'Ann', b = 'Bob', contextOptions) {
  const first = await run.open(url, contextOptions)
  const second = await run.open(url, contextOptions)
  await startChatting(first.page, a)
  await first.page.getByText('Looking for someone…').waitFor()
  await startChatting(second.page, b)
  await chatLog(first.page).getByText(`You're now chatting with ${b}. Say hi!`).waitFor()
  await chatLog(second.page).getByText(`You're now chatting with ${a}. Say hi!`).waitFor()
  return [first, second]
}

async function say(p, to, text) {
  const box = p.page.getByLabel(`Message to ${to}`)
  await box.fill(text)
  await box.press('Enter')
}

test('pasted interests are all kept, and pair on the first one shared', async () => {
  const ann = await run.open(run.url)
  const bob = await run.open(run.url)
  await ann.page.getByLabel('Nickname').fill('Ann')
  await ann.page.getByLabel(/Interests/).focus()
  await ann.page.keyboard.insertText('music, films, chess, ')
  const tags = () => ann.page.locator('.tags .tag').evaluateAll((els) => els.map((e) => e.firstChild.textContent.trim()))
  await expect.poll(tags).toEqual(['music', 'films', 'chess'])
  await screenshot(ann.page, 'pasted-interests')
  await checkA11y(ann.page, 'landing')
  await ann.page.getByLabel(/I am 18 or older/).check()
  await ann.page.getByRole('button', { name: 'Start chatting' }).click()
  await ann.page.getByText('Looking for someone…').waitFor()
  await checkA11y(ann.page, 'search')

  await startChatting(bob.page, 'Bob', ['music'])
  await chatLog(bob.page).getByText('You both like music').waitFor()
  await chatLog(ann.page).getByText('You both like music').waitFor()
  await screenshot(ann.page, 'paired-on-music')
  await checkA11y(ann.page, 'chat')
})

test('the count of who is online includes the visitor who waits', async () => {
  const eve = await run.open(run.url)
  await startChatting(eve.page, 'Eve')
  await eve.page.getByText('Looking for someone…').waitFor()
  const count = eve.page.locator('.search .online')
  await expect.poll(() => count.textContent(), { timeout: 10000 }).toMatch(/[1-9]\d* (person|people) online, [1-9]\d* waiting for a partner/)
  await screenshot(eve.page, 'online-count-while-waiting')
  await eve.page.getByRole('button', { name: 'Cancel' }).click()
})

test('Delivered and Seen come from receipts and survive a reload', async () => {
  const [ann, bob] = await pair(run.url)
  // Bob looks at another tab: Ann's message reaches his page but he has not seen it.
  await bob.page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true })
    document.dispatchEvent(new Event('visibilitychange'))
  })
  await say(ann, 'Bob', 'are you there?')
  const mark = ann.page.locator('.own .mark')
  await expect.poll(() => mark.textContent()).toBe('Delivered')
  await screenshot(ann.page, 'delivered')

  await bob.page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true })
    document.dispatchEvent(new Event('visibilitychange'))
  })
  await bob.page.bringToFront()
  await bob.page.getByLabel('Message to Ann').focus()
  await expect.poll(() => mark.textContent()).toBe('Seen')
  await ann.page.reload()
  await chatLog(ann.page).getByText('are you there?').waitFor()
  await expect.poll(() => ann.page.locator('.own .mark').textContent()).toBe('Seen')
  await screenshot(ann.page, 'seen-after-reload')
})

test('a partner who left can still be reported', async () => {
  const [ann, bob] = await pair(run.url)
  await say(bob, 'Ann', 'buy cheap pills at spam.example')
  await chatLog(ann.page).getByText('buy cheap pills').waitFor()
  await bob.page.getByRole('button', { name: 'Leave' }).click()
  await bob.page.getByRole('button', { name: 'Really?' }).click()
  await chatLog(ann.page).getByText('Bob left the chat.').waitFor()
  await checkA11y(ann.page, 'ended chat')
  const report = ann.page.getByRole('button', { name: 'Report' })
  expect(await report.isEnabled()).toBe(true)
  await report.click()
  await ann.page.getByLabel('Spam or advertising').check()
  await checkA11y(ann.page, 'report dialog')
  await ann.page.getByRole('button', { name: 'Send report' }).click()
  await chatLog(ann.page).getByText('Thank you. Your report was sent.').waitFor()
  await ann.page.getByRole('button', { name: 'Reported' }).waitFor()
  await screenshot(ann.page, 'reported-after-partner-left')
})

test('text that would read as something else is refused or kept in its place', async () => {
  const [ann, dana] = await pair(run.url, 'Ann', 'דנה')
  // A right-to-left name stays in its own place in the sentence around it.
  await expect.poll(() => chatLog(ann.page).locator('.intro bdi').textContent()).toBe('דנה')
  await say(dana, 'Ann', 'holiday photo \u202egnp.exe')
  await dana.page.locator('.not-sent').getByText(/direction overrides/).waitFor()
  await say(dana, 'Ann', 'Z' + '\u0336'.repeat(1500))
  await dana.page.locator('.not-sent').getByText(/at most 8 combining marks on one character, got 1500/).waitFor()
  const stacked = 'Z' + '\u0336\u0301\u0302\u0303\u0304\u0306\u0307\u0308' + 'algo'
  await say(dana, 'Ann', stacked)
  await say(dana, 'Ann', 'שלום, how are you?')
  await chatLog(ann.page).getByText('שלום, how are you?').waitFor()
  const bubble = chatLog(ann.page).locator('.bubble', { hasText: 'algo' })
  expect(await bubble.evaluate((el) => getComputedStyle(el).overflow)).toBe('hidden')
  expect(await chatLog(ann.page).getByText('holiday photo').count()).toBe(0)
  await screenshot(ann.page, 'spoofing-receiver')
  await screenshot(dana.page, 'spoofing-sender')
})

test('a server restart says so, and a message typed meanwhile is not lost silently', async () => {
  const port = await freePort()
  const args = ['--listen', `127.0.0.1:${port}`]
  const url = await ownServer(args)
  const [ann, bob] = await pair(url)
  await ownServers.pop().stop()
  await ann.page.getByText('Connection lost. Reconnecting…').waitFor()
  await say(ann, 'Bob', 'typed while the server was down')
  await ann.page.getByText('Waiting for the connection…').waitFor()
  await screenshot(ann.page, 'server-down')

  await ownServer(args)
  await chatLog(ann.page).getByText('Duet was restarted, so this chat ended.').waitFor({ timeout: 20000 })
  expect(await ann.page.getByText('You were away too long').count()).toBe(0)
  const unsent = ann.page.locator('.not-sent')
  await unsent.getByText('Not sent').waitFor()
  await unsent.getByRole('button', { name: 'Delete' }).waitFor()
  await screenshot(ann.page, 'restarted')
  await checkA11y(ann.page, 'restarted')

  await ann.page.getByRole('button', { name: 'New chat' }).click()
  await ann.page.getByText('Looking for someone…').waitFor()
  // The browser logs each reconnection refused while the server was down, and nothing else.
  for (const p of [ann, bob]) {
    expect(p.errors.filter((e) => !e.includes('ERR_CONNECTION_REFUSED'))).toEqual([])
    p.errors.length = 0
  }
})

test('a banned visitor sees the public reason and the end, never the private note, and no Start', async () => {
  const url = await ownServer(['--admin-token', ADMIN_TOKEN])
  const [cy, dan] = await pair(url, 'Cy', 'Dan')
  await say(dan, 'Cy', 'click spam.example now')
  await chatLog(cy.page).getByText('click spam.example now').waitFor()
  await cy.page.getByRole('button', { name: 'Report' }).click()
  await cy.page.getByLabel('Spam or advertising').check()
  await cy.page.getByRole('button', { name: 'Report and end chat' }).click()
  await chatLog(cy.page).getByText('Thank you. Your report was sent and the chat has ended.').waitFor()
  const { reports } = await admin(url, 'GET', 'reports')
  await admin(url, 'POST', `reports/${reports[0].reportId}/resolve`, {
    decision: 'accept',
    note: 'spam link, private to the moderators',
    ban: { kind: 'account', duration: '2h' },
  })
  await dan.page.getByRole('heading', { name: "You can't use Duet right now" }).waitFor()
  const text = await dan.page.locator('main').innerText()
  expect(text).toContain('Reason: spam')
  expect(text).not.toContain('private to the moderators')
  expect(text).toMatch(/paused your access until .*\d/)
  expect(await dan.page.getByRole('button', { name: /Start/ }).count()).toBe(0)
  await screenshot(dan.page, 'banned')
  await checkA11y(dan.page, 'banned')
})

test('an operator notice stays as a banner, and a visitor who arrives later sees it too', async () => {
  const url = await ownServer(['--admin-token', ADMIN_TOKEN])
  const early = await run.open(url)
  await startChatting(early.page, 'Early')
  await early.page.getByText('Looking for someone…').waitFor()
  await admin(url, 'POST', 'broadcast', { text: 'Maintenance at 22:00 UTC, back in 5 minutes.', level: 'warning', duration: '1h' })
  const banner = (p) => p.getByRole('region', { name: 'Notice from the moderators' })
  await banner(early.page).getByText('Maintenance at 22:00 UTC').waitFor()

  // The page connects when the visitor starts; the current notice comes with the first reply.
  const late = await run.open(url)
  await startChatting(late.page, 'Late')
  await banner(late.page).getByText('Maintenance at 22:00 UTC').waitFor()
  await screenshot(late.page, 'notice-late-arrival')
  await checkA11y(late.page, 'notice')
  await banner(late.page).getByRole('button', { name: 'Dismiss' }).click()
  await banner(late.page).waitFor({ state: 'hidden' })
  expect(await banner(early.page).isVisible(), 'dismissed in one tab only').toBe(true)

  // A notice with an end goes by itself when its time is up.
  await admin(url, 'POST', 'broadcast', { text: 'Short hiccup, bear with us.', level: 'info', duration: '2s' })
  await banner(early.page).getByText('Short hiccup').waitFor()
  await banner(early.page).waitFor({ state: 'hidden', timeout: 15000 })
})

test('a start refused for going too fast counts down, then starts', async () => {
  // One account per address, then one per 10 s: the second visitor's Start comes too soon. With
  // challenges off: in auto, an address over its rate is asked a proof of work instead.
  const url = await ownServer(['--account-burst', '1', '--account-rate', '0.1', '--challenge', 'off'])
  const first = await run.open(url)
  await startChatting(first.page, 'First')
  await first.page.getByText('Looking for someone…').waitFor()
  const second = await run.open(url)
  await startChatting(second.page, 'Second')
  const wait = second.page.getByRole('button', { name: /^Start in \d+ s$/ })
  await wait.waitFor()
  expect(await wait.isDisabled()).toBe(true)
  await screenshot(second.page, 'start-countdown')
  await second.page.getByRole('button', { name: 'Start chatting' }).click({ timeout: 15000 })
  await chatLog(second.page).getByText("You're now chatting with First. Say hi!").waitFor()
})

describe('in German', () => {
  test('the browser language picks German, the header switches back to English', async () => {
    const de = { locale: 'de-DE' }
    const anna = await run.open(run.url, de)
    await anna.page.getByRole('heading', { name: 'Sprich mit jemand Fremdem' }).waitFor()
    await checkA11y(anna.page, 'landing, German')
    await anna.page.getByLabel('Spitzname').fill('Anna')
    await anna.page.getByLabel(/Ich bin 18 oder älter/).check()
    await anna.page.getByRole('button', { name: 'Chat beginnen' }).click()
    await anna.page.getByText('Suche jemanden…').waitFor()
    const ben = await run.open(run.url, de)
    await ben.page.getByLabel('Spitzname').fill('Ben')
    await ben.page.getByLabel(/Ich bin 18 oder älter/).check()
    await ben.page.getByRole('button', { name: 'Chat beginnen' }).click()
    await chatLog(anna.page).getByText('Du chattest jetzt mit Ben. Sag Hallo!').waitFor()
    await ben.page.getByLabel('Nachricht an Anna').fill('Hallo Anna')
    await ben.page.getByLabel('Nachricht an Anna').press('Enter')
    await chatLog(anna.page).getByText('Hallo Anna').waitFor()
    expect(await anna.page.locator('html').getAttribute('lang')).toBe('de')
    await screenshot(anna.page, 'german-chat')
    await checkA11y(anna.page, 'chat, German')

    await anna.page.getByLabel('Sprache').selectOption('en')
    await chatLog(anna.page).getByText("You're now chatting with Ben. Say hi!").waitFor()
    expect(await anna.page.getByRole('button', { name: 'Leave' }).count()).toBe(1)
    await screenshot(anna.page, 'switched-to-english')
  })
})
