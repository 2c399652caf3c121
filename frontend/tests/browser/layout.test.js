// A long chat on a laptop and on a phone: the header, the tabs and the composer stay in the
// window, only the message list scrolls, and it follows new messages only from the bottom.
import { describe, expect, test } from 'vitest'
import { screenshot, serveForTests, startChatting } from './harness.js'

// Sixty messages in a few seconds are more than the default burst allows.
const run = serveForTests('layout', ['--dialogue-burst', '100'])

const laptop = { viewport: { width: 1280, height: 800 } }
const phone = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true }

/** Where el is against the window: its box, and whether all of it is inside. */
async function inViewport(locator) {
  return locator.evaluate((el) => {
    const r = el.getBoundingClientRect()
    return r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight + 0.5 && r.right <= window.innerWidth + 0.5 && r.height > 0
  })
}

async function windowScrolls(page) {
  return page.evaluate(() => document.scrollingElement.scrollHeight > window.innerHeight || window.scrollY > 0)
}

describe('a 60-message chat', () => {
  let ann, bob

  test('keeps the header, tabs, composer and newest message in view at both sizes', async () => {
    ann = await run.open(run.url, laptop)
    bob = await run.open(run.url, phone)
    await startChatting(ann.page, 'Ann')
    await startChatting(bob.page, 'Bob')
    await ann.page.getByLabel('Message to Bob').waitFor()
    await bob.page.getByLabel('Message to Ann').waitFor()

    for (let i = 1; i <= 60; i++) {
      const [from, to] = i % 2 ? [ann, 'Bob'] : [bob, 'Ann']
      const box = from.page.getByLabel(`Message to ${to}`)
      await box.fill(`message number ${i}`)
      await box.press('Enter')
    }
    for (const p of [ann.page, bob.page]) {
      await p.getByRole('log').getByText('message number 60', { exact: true }).waitFor()
      const newest = p.getByRole('log').getByText('message number 60', { exact: true })
      await expect.poll(() => inViewport(newest), 'the newest message is in view').toBe(true)
      expect(await inViewport(p.getByRole('textbox', { name: /^Message to/ })), 'the composer is in view').toBe(true)
      expect(await inViewport(p.getByRole('navigation', { name: 'Your chats' })), 'the tabs are in view').toBe(true)
      expect(await inViewport(p.locator('.topbar')), 'the header is in view').toBe(true)
      expect(await windowScrolls(p), 'the window itself scrolls').toBe(false)
    }
    await screenshot(ann.page, 'long-chat-laptop')
    await screenshot(bob.page, 'long-chat-phone')
  })

  test('follows only at the bottom; above it a button jumps to new messages', async () => {
    const list = bob.page.getByRole('log')
    await list.evaluate((el) => el.scrollTo(0, 0))
    await ann.page.getByLabel('Message to Bob').fill('are you reading the old ones?')
    await ann.page.getByLabel('Message to Bob').press('Enter')
    const jump = bob.page.getByRole('button', { name: /New messages/ })
    await jump.waitFor()
    expect(await list.evaluate((el) => el.scrollTop), 'the list was moved away from what the reader reads').toBe(0)
    await screenshot(bob.page, 'new-messages-button')
    await jump.tap()
    await expect.poll(() => inViewport(list.getByText('are you reading the old ones?'))).toBe(true)
    await jump.waitFor({ state: 'hidden' })

    await ann.page.getByRole('button', { name: 'Leave' }).click()
    await ann.page.getByRole('button', { name: 'Really?' }).click()
    const left = list.getByText('Ann left the chat.')
    await expect.poll(() => inViewport(left), '"Ann left the chat." is in view').toBe(true)
    expect(await windowScrolls(bob.page)).toBe(false)
    await screenshot(bob.page, 'partner-left-phone')
  })

  test('on a phone, long nicknames are cut short and the tab row shows that it scrolls', async () => {
    const longNames = ['Bartholomew Maximilian Third', 'Wilhelmina Constance Fairfax']
    await bob.page.getByRole('button', { name: 'New chat' }).tap()
    for (const [i, nick] of longNames.entries()) {
      if (i) await bob.page.getByRole('navigation', { name: 'Your chats' }).getByRole('button', { name: 'New chat' }).tap()
      await bob.page.getByText('Looking for someone…').waitFor()
      const other = await run.open(run.url, laptop)
      await startChatting(other.page, nick)
      await bob.page.getByRole('log').getByText(`You're now chatting with ${nick}. Say hi!`).waitFor()
    }
    const tabs = bob.page.getByRole('navigation', { name: 'Your chats' })
    await screenshot(bob.page, 'long-names-phone')
    const fades = () => tabs.evaluate((el) => ({ overflows: el.scrollWidth > el.clientWidth, before: el.classList.contains('more-before'), after: el.classList.contains('more-after') }))
    await expect.poll(async () => { const f = await fades(); return f.overflows && (f.before || f.after) }, 'the row fades where it scrolls').toBe(true)
    const cut = await tabs.locator('.tab-name').evaluateAll((els) => els.map((e) => e.scrollWidth > e.clientWidth))
    expect(cut, 'each long name is ellipsised').toEqual([true, true])
    const title = bob.page.locator('.chat-title h2')
    expect(await title.evaluate((e) => e.scrollWidth > e.clientWidth && e.getBoundingClientRect().right <= window.innerWidth)).toBe(true)
    expect(await windowScrolls(bob.page)).toBe(false)
    expect(await bob.page.evaluate(() => document.documentElement.scrollWidth), 'the page scrolls sideways').toBeLessThanOrEqual(360)
  })
})
