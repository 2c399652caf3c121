// Two people chatting in real browsers against the real server, as a user sees it.
import { readFile } from 'node:fs/promises'
import { describe, expect, test } from 'vitest'
import { freePort, screenshot, serveForTests, startChatting, startServer } from './harness.js'

// Ann holds out for a shared interest only briefly, so that her second chat opens soon; two
// chats are her most.
const run = serveForTests('chat', ['--interest-wait', '1s', '--max-sessions', '2'])
const open = (contextOptions) => run.open(run.url, contextOptions)

function chatLog(page) {
  return page.getByRole('log')
}

describe('two strangers', () => {
  let ann, bob

  test('pair by a shared interest and chat both ways', async () => {
    ann = await open()
    bob = await open()
    await screenshot(ann.page, 'landing')
    await ann.page.getByRole('button', { name: 'rules', exact: true }).click()
    const rules = ann.page.getByRole('dialog', { name: 'Rules' })
    await rules.getByText('You must be 18 or older.').waitFor()
    await screenshot(ann.page, 'rules')
    await ann.page.keyboard.press('Escape')
    await rules.waitFor({ state: 'hidden' })
    await startChatting(ann.page, 'Ann', ['music'])
    await expect.poll(() => ann.page.getByText('Looking for someone…').isVisible()).toBe(true)
    await screenshot(ann.page, 'searching')

    await startChatting(bob.page, 'Bob', ['Music', 'films'])
    await chatLog(ann.page).getByText("You're now chatting with Bob. Say hi!").waitFor()
    await chatLog(bob.page).getByText("You're now chatting with Ann. Say hi!").waitFor()
    await expect.poll(() => ann.page.getByText('You both like music').isVisible()).toBe(true)

    await ann.page.getByLabel('Message to Bob').fill('hi Bob')
    await ann.page.getByLabel('Message to Bob').press('Enter')
    await chatLog(bob.page).getByText('hi Bob').waitFor()

    const box = bob.page.getByLabel('Message to Ann')
    await box.fill('hello Ann')
    await box.press('Shift+Enter')
    await box.pressSequentially('how are you?')
    await box.press('Enter')
    await chatLog(ann.page).getByText('how are you?').waitFor()
    expect(await chatLog(ann.page).locator('.partner .bubble').last().textContent()).toBe('hello Ann\nhow are you?')
    await screenshot(ann.page, 'chatting-ann')
    await screenshot(bob.page, 'chatting-bob')
  })

  test('see typing and seen marks', async () => {
    await bob.page.getByLabel('Message to Ann').pressSequentially('typing a reply')
    await ann.page.getByText('Bob is typing…').waitFor()
    await screenshot(ann.page, 'partner-typing')

    // Bob's page shows Ann's message on screen, so it tells the server he has seen it.
    await ann.page.locator('.own .mark', { hasText: 'Seen' }).first().waitFor()
    await screenshot(ann.page, 'seen-mark')

    await bob.page.getByLabel('Message to Ann').fill('')
    await ann.page.getByText('Bob is typing…').waitFor({ state: 'hidden' })
  })

  test('a reload keeps the chat and its messages', async () => {
    await bob.page.reload()
    await chatLog(bob.page).getByText("You're now chatting with Ann. Say hi!").waitFor()
    await chatLog(bob.page).getByText('hi Bob').waitFor()
    await chatLog(bob.page).getByText('how are you?').waitFor()
    await expect.poll(() => bob.page.getByText('You both like music').isVisible()).toBe(true)

    await ann.page.getByLabel('Message to Bob').fill('welcome back')
    await ann.page.getByLabel('Message to Bob').press('Enter')
    await chatLog(bob.page).getByText('welcome back').waitFor()
    expect(await chatLog(bob.page).getByText('hi Bob').count()).toBe(1)
    await screenshot(bob.page, 'after-reload')
  })

  test('a second chat opens as a tab, and the other counts what is unread', async () => {
    const cy = await open()
    await ann.page.getByRole('navigation', { name: 'Your chats' }).getByRole('button', { name: 'New chat' }).click()
    await ann.page.getByText('Looking for someone…').waitFor()
    await startChatting(cy.page, 'Cy')
    await chatLog(ann.page).getByText("You're now chatting with Cy. Say hi!").waitFor()
    await ann.page.getByText('At most 2 chats at once').waitFor()

    await bob.page.getByLabel('Message to Ann').fill('are you still here?')
    await bob.page.getByLabel('Message to Ann').press('Enter')
    const bobTab = ann.page.getByRole('navigation', { name: 'Your chats' }).getByRole('button', { name: /^Bob/ })
    await bobTab.locator('.badge', { hasText: '1' }).waitFor()
    await expect.poll(() => ann.page.title()).toBe('(1) Duet')
    await screenshot(ann.page, 'two-chats-unread')

    await bobTab.click()
    await chatLog(ann.page).getByText('are you still here?').waitFor()
    await expect.poll(() => ann.page.title()).toBe('Duet')
    expect(await bobTab.locator('.badge').count()).toBe(0)
  })

  test('Leave asks once, then shows the partner who left', async () => {
    await ann.page.getByRole('button', { name: 'Leave' }).click()
    await ann.page.getByRole('button', { name: 'Really?' }).click()
    await chatLog(ann.page).getByText('You left the chat.').waitFor()
    await chatLog(bob.page).getByText('Ann left the chat.').waitFor()
    await ann.page.getByRole('button', { name: 'New chat' }).first().waitFor()
    await bob.page.getByRole('button', { name: 'New chat' }).first().waitFor()
    await screenshot(ann.page, 'left')

    const [download] = await Promise.all([ann.page.waitForEvent('download'), ann.page.getByRole('button', { name: 'Save chat' }).click()])
    const saved = await readFile(await download.path(), 'utf8')
    expect(saved).toMatch(/^Duet chat with Bob\n/)
    expect(saved).toMatch(/\] Ann: hi Bob\n/)
    expect(saved).toMatch(/\] Bob: hello Ann\nhow are you\?\n/)
    await screenshot(bob.page, 'partner-left')
  })
})

test('a phone-sized page in dark mode pairs and chats', async () => {
  const phone = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, colorScheme: 'dark' }
  const cara = await open(phone)
  const dan = await open(phone)
  await startChatting(cara.page, 'Cara')
  await startChatting(dan.page, 'Dan')
  await chatLog(cara.page).getByText("You're now chatting with Dan. Say hi!").waitFor()
  await dan.page.getByLabel('Message to Cara').fill('hi from a phone')
  await dan.page.getByRole('button', { name: 'Send' }).tap()
  await chatLog(cara.page).getByText('hi from a phone').waitFor()
  for (const p of [cara.page, dan.page]) {
    const width = await p.evaluate(() => document.documentElement.scrollWidth)
    expect(width, 'the page scrolls sideways').toBeLessThanOrEqual(360)
  }
  await screenshot(cara.page, 'phone-dark')

  await cara.page.getByRole('button', { name: 'Report' }).tap()
  await cara.page.getByLabel('Spam or advertising').check()
  await cara.page.getByLabel(/Anything else/).fill('sent links')
  await screenshot(cara.page, 'phone-report')
  await cara.page.getByRole('button', { name: 'Report and end chat' }).tap()
  await chatLog(cara.page).getByText('Your report was sent and the chat has ended.').waitFor()
  await chatLog(dan.page).getByText('Cara left the chat.').waitFor()
})

test('the page works when the origin must be in --allowed-origins', async () => {
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  const listed = startServer(run.binary.bin, ['--listen', `127.0.0.1:${port}`, '--allowed-origins', origin])
  try {
    const eve = await run.open(await listed.ready)
    await startChatting(eve.page, 'Eve')
    await eve.page.getByText('Looking for someone…').waitFor()
    await screenshot(eve.page, 'allowed-origins')
  } finally {
    await listed.stop()
  }
})
