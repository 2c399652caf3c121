import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { chatTranscript, createChatStore } from '../../src/chat/store.js'
import { EndReason, OfflineError } from '../../src/protocol/client.js'
import { memoryStorage } from './storage.js'
import { fakeClient, inChat, ME, PARTNER, partnerMessage, SESSION, signal } from './fakeClient.js'

const texts = (chat) => chat.items.map((it) => (it.kind === 'system' ? `* ${it.text}` : it.content))

describe('messages', () => {
  test('ordered by msgId, each shown once', () => {
    const { client, chat } = inChat(createChatStore)
    partnerMessage(client, 20004)
    partnerMessage(client, 20002)
    partnerMessage(client, 20004)
    partnerMessage(client, 20003)
    expect(chat.items.map((it) => it.msgId)).toEqual([20002, 20003, 20004])
  })

  test('own message: sending, delivered, seen', async () => {
    const { store, client, chat } = inChat(createChatStore)
    expect(store.send(chat, 'hi Bob')).toBe(true)
    expect(chat.items[0]).toMatchObject({ content: 'hi Bob', own: true, state: 'sending' })
    client.sent[0].resolve(20001)
    await vi.waitFor(() => expect(chat.items[0].state).toBe('delivered'))
    client.emit('viewed', { sessionId: SESSION, accountId: PARTNER, msgId: 20001 })
    expect(chat.items[0].state).toBe('seen')
  })

  test('a message sent while the partner is away is delivered when they are back', async () => {
    const { store, client, chat } = inChat(createChatStore)
    signal(client, 'PartnerAway')
    store.send(chat, 'you there?')
    client.sent[0].resolve(20001)
    await vi.waitFor(() => expect(chat.items.find((it) => it.own).state).toBe('sent'))
    signal(client, 'PartnerBack')
    expect(chat.items.find((it) => it.own).state).toBe('delivered')
  })

  test('a stored copy brought by RESUME stands for the pending message', async () => {
    const { store, client, chat } = inChat(createChatStore)
    store.send(chat, 'hello')
    client.emit('message', { sessionId: SESSION, msgId: 20001, senderId: ME, content: 'hello', sentAt: 1 })
    client.sent[0].resolve(20001)
    await vi.waitFor(() => expect(chat.items.filter((it) => it.content === 'hello')).toHaveLength(1))
    expect(chat.items[0]).toMatchObject({ msgId: 20001, own: true })
  })

  test('blank and overlong messages are not sent', () => {
    const { store, client, chat } = inChat(createChatStore)
    expect(store.send(chat, '  \n ')).toBe(false)
    expect(store.send(chat, '😀'.repeat(2001))).toBe(false)
    expect(store.send(chat, '😀'.repeat(2000))).toBe(true) // code points, not UTF-16 units
    expect(client.send).toHaveBeenCalledTimes(1)
    expect(store.state.toasts.map((t) => t.text)).toEqual(['A message can be at most 2000 characters.'])
  })

  test('unread counts only what arrives out of sight, and reading clears it', () => {
    const { store, client, chat } = inChat(createChatStore)
    partnerMessage(client, 20001)
    expect(chat.unread).toBe(0)
    store.setFocused(false)
    partnerMessage(client, 20002)
    partnerMessage(client, 20003)
    expect(chat.unread).toBe(2)
    store.setFocused(true)
    store.seen(chat, 20003)
    expect(chat.unread).toBe(0)
    expect(client.viewed).toHaveBeenCalledWith(SESSION, 20003)
    store.seen(chat, 20002) // older: nothing new to tell
    expect(client.viewed).toHaveBeenCalledTimes(1)
  })
})

describe('signals', () => {
  test('away, back, typing and exit, in words', () => {
    const { client, chat } = inChat(createChatStore)
    signal(client, 'Typing', { typing: true })
    expect(chat.partnerTyping).toBe(true)
    signal(client, 'PartnerAway')
    expect(chat.partnerTyping).toBe(false)
    signal(client, 'PartnerBack')
    signal(client, 'PartnerExit', { reason: 'timeout' })
    expect(texts(chat)).toEqual([
      "* Bob's connection dropped, waiting…",
      '* Bob is back.',
      '* Bob lost their connection and did not come back.',
    ])
    expect(chat.status).toBe('ended')
  })

  test('a Notice is shown as it is', () => {
    const { store, client } = inChat(createChatStore)
    signal(client, 'Notice', { text: '<b>maintenance at 10:00</b>', level: 'info' }, 0)
    expect(store.state.toasts.at(-1)).toMatchObject({ text: '<b>maintenance at 10:00</b>', level: 'info' })
  })

  test('every problem the page did not show otherwise becomes a note', () => {
    const { store, client } = inChat(createChatStore)
    client.emit('problem', { cmd: 'MATCH', code: 6, msg: 'too many requests', retryAfterMs: 1500 })
    client.emit('problem', { cmd: 'MATCH', code: 9, msg: 'limit' })
    client.emit('problem', { cmd: 'MATCH', code: 10, msg: 'paused' })
    client.emit('problem', { cmd: 'VIEWED_ACK', code: 8, msg: 'ended' })
    expect(store.state.toasts.map((t) => t.text)).toEqual([
      "You're going a bit fast. Try again in 2 s.",
      "You're already in as many chats as allowed at once. Leave one to start another.",
      'The moderators have paused new chats for a while. Please try again later.',
    ])
  })

  test('a kick ends everything and says why', () => {
    const { store, client } = inChat(createChatStore)
    client.emit('ended', { reason: EndReason.Kicked, data: { reason: 'spam', until: 0 } })
    expect(store.state.ended.text).toBe('You have been removed from Duet. Reason: spam.')
  })

  test('a banned start says so once, not that Duet is unreachable', async () => {
    const client = fakeClient()
    const store = createChatStore(client, { storage: memoryStorage() })
    client.createAccount.mockImplementation(async () => {
      client.emit('ended', { reason: EndReason.Kicked, data: { reason: 'spam', until: Date.UTC(2027, 0, 1) } })
      throw new OfflineError()
    })
    await store.start({ nickName: 'Cy', interests: [] })
    expect(store.state.ended.text).toMatch(/^You are banned from Duet until .*Reason: spam\.$/)
    expect(store.state.toasts).toEqual([])
    expect(client.match).not.toHaveBeenCalled()
  })
})

describe('the chat lifecycle', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  test('Leave, Really?, then the chat ends and offers a new one', async () => {
    const { store, client, chat } = inChat(createChatStore)
    await store.stepLeave(chat)
    expect(chat.leaveStep).toBe(1)
    expect(client.leave).not.toHaveBeenCalled()
    await store.stepLeave(chat)
    expect(client.leave).toHaveBeenCalledWith(SESSION)
    expect(chat.status).toBe('ended')
    expect(texts(chat)).toEqual(['* You left the chat.'])
    await store.stepLeave(chat) // "New chat"
    expect(store.state.chats).toHaveLength(0)
    expect(store.state.searching).toMatchObject({ interests: [] })
    expect(client.match).toHaveBeenCalled()
  })

  test('a reconnection ends the chats the server no longer has', () => {
    const { store, client, chat } = inChat(createChatStore)
    client.emit('restored', { sessions: [{ sessionId: 10007, partnerId: 1313, partnerName: 'Cy', lastMsgId: 0 }] })
    expect(chat.status).toBe('ended')
    expect(store.state.chats.map((c) => c.partnerName)).toEqual(['Bob', 'Cy'])
  })

  test('shared interests survive a reload', () => {
    const storage = memoryStorage()
    inChat(createChatStore, fakeClient(), { storage })
    const client = fakeClient()
    const store = createChatStore(client, { storage })
    client.emit('restored', { sessions: [{ sessionId: SESSION, partnerId: PARTNER, partnerName: 'Bob', lastMsgId: 0 }] })
    expect(store.state.chats[0].commonInterests).toEqual(['music'])
  })

  test('a report ends the chat with a confirmation', async () => {
    const { store, client, chat } = inChat(createChatStore)
    expect(await store.report(chat, 'spam', '  sent links ')).toBe(true)
    expect(client.report).toHaveBeenCalledWith(SESSION, 'spam', 'sent links')
    expect(chat.status).toBe('ended')
    expect(texts(chat).at(-1)).toBe('* Thank you. Your report was sent and the chat has ended.')
  })
})

test('the transcript is plain text with who said what', () => {
  const { store, client, chat } = inChat(createChatStore)
  partnerMessage(client, 20002, 'hi <there>')
  signal(client, 'PartnerExit', { reason: 'left' })
  const text = chatTranscript(chat, store.state.me)
  expect(text).toContain('Duet chat with Bob\nShared interests: music\n')
  expect(text).toMatch(/\] Bob: hi <there>\n\* Bob left the chat\.\n$/)
})
