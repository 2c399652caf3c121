import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { nextTick } from 'vue'
import LandingForm from '../../src/components/LandingForm.vue'
import ChatPanel from '../../src/components/ChatPanel.vue'
import SearchPanel from '../../src/components/SearchPanel.vue'
import ChatTabs from '../../src/components/ChatTabs.vue'
import ChatView from '../../src/views/ChatView.vue'
import { limits } from '../../src/settings.js'
import { createChatStore } from '../../src/chat/store.js'
import { fakeClient, inChat, PARTNER, partnerMessage, SESSION } from './fakeClient.js'
import { ProtocolError } from '../../src/protocol/client.js'
import { memoryStorage } from './storage.js'
import { catalogue } from './words.js'
import { createCatalogue } from '../../src/i18n/index.js'

// jsdom lays nothing out: this IntersectionObserver lets a test say what is on screen.
const observers = []
class FakeIntersectionObserver {
  constructor(callback) {
    this.callback = callback
    this.elements = new Set()
    observers.push(this)
  }
  observe(el) {
    this.elements.add(el)
  }
  disconnect() {
    this.elements.clear()
  }
}
function showAll() {
  for (const o of observers) o.callback([...o.elements].map((target) => ({ target, isIntersecting: true })))
}

beforeEach(() => {
  observers.length = 0
  vi.stubGlobal('IntersectionObserver', FakeIntersectionObserver)
  vi.stubGlobal('ResizeObserver', class { observe() {} disconnect() {} })
  HTMLDialogElement.prototype.showModal ||= function () {
    this.open = true
  }
  HTMLDialogElement.prototype.close ||= function () {
    this.open = false
  }
})
afterEach(() => vi.unstubAllGlobals())

const withStore = (store) => ({ global: { plugins: [catalogue()], provide: { chat: store } }, attachTo: document.body })

describe('the landing form', () => {
  test('says what is missing and sends nothing', async () => {
    const client = fakeClient()
    const w = mount(LandingForm, withStore(createChatStore(client, { storage: memoryStorage() })))
    await w.find('form').trigger('submit')
    expect(w.text()).toContain('Choose a nickname.')
    expect(w.text()).toContain('Please confirm you are 18 or older and accept the rules.')
    expect(client.createAccount).not.toHaveBeenCalled()
    w.unmount()
  })

  test('starts with the trimmed nickname and the interests as tags', async () => {
    const client = fakeClient()
    const w = mount(LandingForm, withStore(createChatStore(client, { storage: memoryStorage() })))
    await w.find('#nickname').setValue('  Ann ')
    const interest = w.find('#interest')
    await interest.setValue('Music')
    await interest.trigger('keydown', { key: 'Enter' })
    await interest.setValue('go,')
    await interest.trigger('input')
    expect(w.findAll('.tag').map((t) => t.text().replace('×', '').trim())).toEqual(['music', 'go'])
    await w.find('input[type=checkbox]').setValue(true)
    await w.find('form').trigger('submit')
    await vi.waitFor(() => expect(client.match).toHaveBeenCalledWith(['music', 'go']))
    expect(client.createAccount).toHaveBeenCalledWith('Ann')
    w.unmount()
  })

  test('a pasted list keeps every interest', async () => {
    const w = mount(LandingForm, withStore(createChatStore(fakeClient(), { storage: memoryStorage() })))
    const interest = w.find('#interest')
    await interest.setValue('music, films, chess, ')
    expect(w.findAll('.tag').map((t) => t.text().replace('×', '').trim())).toEqual(['music', 'films', 'chess'])
    expect(interest.element.value).toBe('')
    w.unmount()
  })
  test('while Start proves itself: progress in words and as a bar, and Cancel', async () => {
    const client = fakeClient()
    const store = createChatStore(client, { storage: memoryStorage() })
    const w = mount(LandingForm, withStore(store))
    client.emit('proving', { fraction: 0.6 })
    await nextTick()
    const bar = w.find('[role=progressbar]')
    expect(bar.attributes()).toMatchObject({ 'aria-label': "Checking you're not a bot…", 'aria-valuenow': '60' })
    expect(w.find('.proving').text()).toContain("Checking you're not a bot… 60%")
    expect(w.find('button[type=submit]').exists()).toBe(false)
    await w.findAll('button').find((b) => b.text() === 'Cancel').trigger('click')
    expect(client.cancelAccount).toHaveBeenCalled()
    w.unmount()
  })

  test('in German, with the percent sign as German writes it', async () => {
    const client = fakeClient()
    const store = createChatStore(client, { storage: memoryStorage() })
    const w = mount(LandingForm, { ...withStore(store), global: { plugins: [createCatalogue('de')], provide: { chat: store } } })
    client.emit('proving', { fraction: 0.6 })
    await nextTick()
    expect(w.find('.proving-text').text()).toBe('Wir prüfen, dass du kein Bot bist… 60\u00a0%')
    expect(w.find('.proving button').text()).toBe('Abbrechen')
    w.unmount()
  })

  test('a new chat after the account ended shows the proof of work in place of the chat', async () => {
    const { store, client } = inChat(createChatStore)
    const w = mount(ChatView, withStore(store))
    expect(w.find('[role=progressbar]').exists()).toBe(false)
    expect(w.find('.chat').exists()).toBe(true)
    client.emit('proving', { fraction: 0.25 })
    await nextTick()
    expect(w.find('[role=progressbar]').attributes('aria-valuenow')).toBe('25')
    expect(w.find('.chat').exists()).toBe(false)
    expect(w.find('nav').exists(), 'the tabs stay').toBe(true)
    w.unmount()
  })
})

describe('the chat panel', () => {
  function panel() {
    const t = inChat(createChatStore)
    const w = mount(ChatPanel, { props: { chat: t.chat }, ...withStore(t.store) })
    return { ...t, w }
  }

  test('greets with the partner and what you share', () => {
    const { w } = panel()
    expect(w.find('h2').text()).toBe('Bob')
    expect(w.find('.intro').text()).toContain("You're now chatting with Bob. Say hi!")
    expect(w.find('.intro').text()).toContain('You both like music')
    expect(w.find('.avatar').text()).toBe('B')
    w.unmount()
  })

  test('groups by sender and minute, one time per group, the receipt on the newest own message only', async () => {
    const { w, client, store, chat } = panel()
    const at = Date.UTC(2026, 0, 1, 9, 5, 10)
    client.emit('message', { sessionId: SESSION, msgId: 20001, senderId: PARTNER, content: 'one', sentAt: at })
    client.emit('message', { sessionId: SESSION, msgId: 20002, senderId: PARTNER, content: 'two', sentAt: at + 20000 })
    client.emit('message', { sessionId: SESSION, msgId: 20003, senderId: PARTNER, content: 'three', sentAt: at + 60000 })
    store.send(chat, 'mine')
    store.send(chat, 'mine too')
    client.sent[0].resolve(20004)
    client.sent[1].resolve(20005)
    await vi.waitFor(() => expect(w.findAll('.own .bubble')).toHaveLength(2))
    await nextTick()
    expect(w.findAll('.group').map((g) => g.findAll('.bubble').map((b) => b.text()))).toEqual([['one', 'two'], ['three'], ['mine', 'mine too']])
    expect(w.findAll('.group time')).toHaveLength(3)
    expect(w.findAll('.mark').map((m) => m.text())).toEqual(['Sent'])
    client.emit('viewed', { sessionId: SESSION, accountId: PARTNER, msgId: 20005 })
    await nextTick()
    expect(w.findAll('.mark').map((m) => m.text())).toEqual(['Seen'])
    w.unmount()
  })

  test('a message not sent offers Retry and Delete', async () => {
    const { w, client, store, chat } = panel()
    store.send(chat, 'http://spam.example')
    client.sent[0].reject(new ProtocolError('DIALOGUE', { code: 1, msg: 'message not sent: links are not allowed' }))
    await vi.waitFor(() => expect(w.find('.not-sent').exists()).toBe(true))
    expect(w.find('.not-sent').text()).toContain('Not sent: message not sent: links are not allowed')
    await w.findAll('.not-sent button').find((b) => b.text() === 'Delete').trigger('click')
    expect(w.find('.bubble').exists()).toBe(false)
    w.unmount()
  })

  test('Enter sends, Shift+Enter does not', async () => {
    const { w, client } = panel()
    const box = w.find('textarea')
    await box.setValue('line one')
    await box.trigger('keydown', { key: 'Enter', shiftKey: true })
    expect(client.send).not.toHaveBeenCalled()
    await box.trigger('keydown', { key: 'Enter' })
    expect(client.send).toHaveBeenCalledWith(SESSION, 'line one')
    expect(box.element.value).toBe('')
    await nextTick()
    expect(w.find('.own .bubble').text()).toBe('line one')
    expect(w.find('.own .mark').text()).toMatch(/^(Sending…|Waiting for the connection…)$/)
    w.unmount()
  })

  test("the partner's text is shown as text, never as HTML", async () => {
    const { w, client } = panel()
    partnerMessage(client, 20002, '<img src=x onerror="alert(1)"><b>bold</b>')
    await nextTick()
    expect(w.find('.partner .bubble').text()).toBe('<img src=x onerror="alert(1)"><b>bold</b>')
    expect(w.find('.partner img').exists()).toBe(false)
    w.unmount()
  })

  test('a read receipt only for messages on screen in a focused page', async () => {
    const { w, client, store } = panel()
    store.setFocused(false)
    partnerMessage(client, 20002)
    await nextTick()
    await nextTick()
    showAll()
    expect(client.viewed).not.toHaveBeenCalled()
    store.setFocused(true)
    await nextTick()
    expect(client.viewed).toHaveBeenCalledWith(SESSION, 20002)
    w.unmount()
  })

  test('Leave, Really?, then one way forward, New chat; Esc drives it too', async () => {
    const { w, client } = panel()
    const leave = () => w.find('button.leave')
    expect(leave().text()).toBe('Leave')
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }))
    await nextTick()
    expect(leave().text()).toBe('Really?')
    await leave().trigger('click')
    await vi.waitFor(() => expect(leave().exists()).toBe(false))
    expect(client.leave).toHaveBeenCalledWith(SESSION)
    expect(w.text()).toContain('You left the chat.')
    expect(w.find('textarea').exists()).toBe(false)
    expect(w.findAll('button').filter((b) => b.text() === 'New chat')).toHaveLength(1)
    expect(w.findAll('button').find((b) => b.text() === 'Report').attributes('disabled')).toBeUndefined()
    w.unmount()
  })
})

describe('the search', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  for (const [interests, offered] of [
    [['music'], true],
    [[], false],
  ]) {
    test(`with ${interests.length ? 'interests' : 'no interests'}, anyone is ${offered ? '' : 'not '}offered after 10 s`, async () => {
      const client = fakeClient()
      const store = createChatStore(client, { storage: memoryStorage() })
      store.search(interests)
      const w = mount(SearchPanel, withStore(store))
      expect(w.text()).toContain('Looking for someone…')
      expect(w.text()).not.toContain('Talk to anyone instead')
      await vi.advanceTimersByTimeAsync(10000)
      expect(w.text().includes('Talk to anyone instead')).toBe(offered)
      w.unmount()
    })
  }
})

test('the tabs offer a new chat until the live ones reach the maximum', async () => {
  const { store, client } = inChat(createChatStore)
  limits.sessions = 2
  try {
    const w = mount(ChatTabs, withStore(store))
    expect(w.text()).toContain('+ New chat')
    client.emit('session', { sessionId: 10001, partnerId: 1313, partnerName: 'Cy', commonInterests: [] })
    await nextTick()
    expect(w.text()).not.toContain('+ New chat')
    expect(w.text()).toContain('At most 2 chats at once')
    w.unmount()
  } finally {
    limits.sessions = 3
  }
})
