import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { chatTranscript, createChatStore, receipt } from '../../src/chat/store.js'
import { EndReason, OfflineError, ProtocolError } from '../../src/protocol/client.js'
import { memoryStorage } from './storage.js'
import { fakeClient, inChat, ME, PARTNER, partnerMessage, SESSION, signal } from './fakeClient.js'
import { say, t } from './words.js'

const texts = (chat) => chat.items.map((it) => (it.kind === 'system' ? `* ${say(it.text)}` : it.content))
const marks = (chat) => chat.items.filter((it) => it.own).map((it) => receipt(chat, it))
const toasts = (store) => store.state.toasts.map(say)

describe('messages', () => {
  test('ordered by msgId, each shown once', () => {
    const { client, chat } = inChat(createChatStore)
    partnerMessage(client, 20004)
    partnerMessage(client, 20002)
    partnerMessage(client, 20004)
    partnerMessage(client, 20003)
    expect(chat.items.map((it) => it.msgId)).toEqual([20002, 20003, 20004])
  })

  test('own message: sending, sent when stored, delivered and seen only on the receipts', async () => {
    const { store, client, chat } = inChat(createChatStore)
    expect(store.send(chat, 'hi Bob')).toBe(true)
    expect(marks(chat)).toEqual(['sending'])
    client.sent[0].resolve(20001)
    await vi.waitFor(() => expect(marks(chat)).toEqual(['sent']))
    client.emit('delivered', { sessionId: SESSION, accountId: PARTNER, msgId: 20001 })
    expect(marks(chat)).toEqual(['delivered'])
    client.emit('viewed', { sessionId: SESSION, accountId: PARTNER, msgId: 20001 })
    expect(marks(chat)).toEqual(['seen'])
    client.emit('delivered', { sessionId: SESSION, accountId: PARTNER, msgId: 20000 }) // late and older
    expect(marks(chat)).toEqual(['seen'])
  })

  test('after a reload, the RECONNECT watermarks give every own message its receipt again', () => {
    const client = fakeClient()
    const store = createChatStore(client, { storage: memoryStorage() })
    client.emit('account', { accountId: ME, nickName: 'Ann' })
    client.emit('restored', {
      sessions: [{ sessionId: SESSION, partnerId: PARTNER, partnerName: 'Bob', lastMsgId: 20003, deliveredMsgId: 20003, viewedMsgId: 20002 }],
    })
    for (const msgId of [20001, 20002, 20003]) client.emit('message', { sessionId: SESSION, msgId, senderId: ME, content: `m${msgId}`, sentAt: 1 })
    expect(marks(store.state.chats[0])).toEqual(['seen', 'seen', 'delivered'])
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
    expect(toasts(store)).toEqual(['A message can be at most 2000 characters.'])
  })

  test('a refused message stays as not sent, with no note; Retry sends it anew, Delete removes it', async () => {
    const { store, client, chat } = inChat(createChatStore)
    store.send(chat, 'see http://spam.example')
    client.emit('problem', { cmd: 'DIALOGUE', code: 1, msg: 'message not sent: links are not allowed' })
    client.sent[0].reject(new ProtocolError('DIALOGUE', { code: 1, msg: 'message not sent: links are not allowed' }))
    await vi.waitFor(() => expect(marks(chat)).toEqual(['failed']))
    expect(chat.items[0].error).toEqual({ code: 1, msg: 'message not sent: links are not allowed' })
    expect(store.state.toasts).toEqual([])

    store.retry(chat, chat.items[0])
    expect(client.send).toHaveBeenLastCalledWith(SESSION, 'see http://spam.example')
    expect(marks(chat)).toEqual(['sending'])
    client.sent[1].reject(new OfflineError())
    await vi.waitFor(() => expect(marks(chat)).toEqual(['failed']))
    store.discard(chat, chat.items[0])
    expect(chat.items).toEqual([])
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

  describe('a Notice', () => {
    beforeEach(() => vi.useFakeTimers({ now: 1767225600000 }))
    afterEach(() => vi.useRealTimers())

    test('stays as it is until its time is up', async () => {
      const { store, client } = inChat(createChatStore)
      signal(client, 'Notice', { text: '<b>maintenance at 10:00</b>', level: 'warning', until: Date.now() + 60000 }, 0)
      expect(store.state.notice).toEqual({ text: '<b>maintenance at 10:00</b>', level: 'warning', until: Date.now() + 60000 })
      await vi.advanceTimersByTimeAsync(59000)
      expect(store.state.notice).not.toBeNull()
      await vi.advanceTimersByTimeAsync(1000)
      expect(store.state.notice).toBeNull()
    })

    test('without an end stays until dismissed, and a dismissed one does not come back in this tab', () => {
      const storage = memoryStorage()
      const { store, client } = inChat(createChatStore, fakeClient(), { storage })
      signal(client, 'Notice', { text: 'be kind', level: 'info' }, 0)
      expect(store.state.notice).toMatchObject({ text: 'be kind', until: 0 })
      store.dismissNotice()
      expect(store.state.notice).toBeNull()
      signal(client, 'Notice', { text: 'be kind', level: 'info' }, 0) // sent again on a new connection
      expect(store.state.notice).toBeNull()
      signal(client, 'Notice', { text: 'new rules', level: 'info' }, 0)
      expect(store.state.notice).toMatchObject({ text: 'new rules' })
    })
  })

  test('every problem the page did not show otherwise becomes one note, not one per refusal', () => {
    const { store, client } = inChat(createChatStore)
    client.emit('problem', { cmd: 'MATCH', code: 6, msg: 'too many requests', retryAfterMs: 1500 })
    client.emit('problem', { cmd: 'MATCH', code: 9, msg: 'limit' })
    client.emit('problem', { cmd: 'MATCH', code: 9, msg: 'limit' })
    client.emit('problem', { cmd: 'MATCH', code: 10, msg: 'paused' })
    client.emit('problem', { cmd: 'VIEWED_ACK', code: 6, msg: 'slow down', retryAfterMs: 500 })
    client.emit('problem', { cmd: 'DELIVERED_ACK', code: 8, msg: 'ended' })
    client.emit('problem', { cmd: 'DIALOGUE', code: 1, msg: 'message not sent: links' })
    expect(toasts(store)).toEqual([
      "You're going a bit fast. Try again in 2 s.",
      "You're already in as many chats as allowed at once. Leave one to start another.",
      'The moderators have paused new chats for a while. Please try again later.',
    ])
  })

  test('a kick without an end ends everything and says why', () => {
    const { store, client } = inChat(createChatStore)
    client.emit('ended', { reason: EndReason.Kicked, data: { reason: 'spam', until: 0 } })
    expect(store.state.ended).toEqual({ reason: EndReason.Kicked, until: 0, why: 'spam' })
    expect(store.state.chats[0].status).toBe('ended')
  })

  test('a banned start says so once, not that Duet is unreachable', async () => {
    const client = fakeClient()
    const store = createChatStore(client, { storage: memoryStorage() })
    client.createAccount.mockImplementation(async () => {
      client.emit('ended', { reason: EndReason.Banned, data: { reason: 'spam', until: Date.UTC(2027, 0, 1) } })
      throw new OfflineError()
    })
    await store.start({ nickName: 'Cy', interests: [] })
    expect(store.state.ended).toEqual({ reason: EndReason.Banned, until: Date.UTC(2027, 0, 1), why: 'spam' })
    expect(store.state.toasts).toEqual([])
    expect(client.match).not.toHaveBeenCalled()
  })

  test('a start refused for going too fast waits, then goes', async () => {
    let clock = 1767225600000
    const client = fakeClient()
    const store = createChatStore(client, { storage: memoryStorage(), now: () => clock })
    client.createAccount.mockImplementationOnce(async () => {
      throw new ProtocolError('CRT_ACCOUNT', { code: 6, msg: 'too many accounts', retryAfterMs: 7000 })
    })
    await store.start({ nickName: 'Cy', interests: [] })
    expect(store.state.startAfter).toBe(clock + 7000)
    expect(store.state.toasts).toEqual([])
    await store.start({ nickName: 'Cy', interests: [] }) // too early: not even asked
    expect(client.createAccount).toHaveBeenCalledTimes(1)
    clock += 7000
    await store.start({ nickName: 'Cy', interests: [] })
    expect(client.match).toHaveBeenCalled()
  })

  test('a start proving itself shows how far it got; a cancelled one is back at the landing, saying nothing', async () => {
    const client = fakeClient()
    const store = createChatStore(client, { storage: memoryStorage() })
    let cancel
    client.createAccount.mockImplementationOnce(
      () =>
        new Promise((resolve, reject) => {
          client.emit('problem', { cmd: 'CRT_ACCOUNT', code: 11, msg: 'solve the challenge first' })
          client.emit('proving', { fraction: 0 })
          client.emit('proving', { fraction: 0.6 })
          cancel = () => reject(new DOMException('cancelled', 'AbortError'))
        }),
    )
    client.cancelAccount.mockImplementation(() => cancel())
    const started = store.start({ nickName: 'Cy', interests: [] })
    expect(store.state.proving).toBe(0.6)
    store.cancelStart()
    await started
    expect(client.cancelAccount).toHaveBeenCalled()
    expect(store.state.proving).toBeNull()
    expect(store.state.toasts).toEqual([])
    expect(client.match).not.toHaveBeenCalled()
    expect(store.state.searching).toBeNull()
  })

  test('a start whose proofs keep being refused says so, and can be tried again', async () => {
    const client = fakeClient()
    const store = createChatStore(client, { storage: memoryStorage() })
    client.createAccount.mockImplementationOnce(async () => {
      client.emit('proving', { fraction: 0.3 })
      client.emit('problem', { cmd: 'CRT_ACCOUNT', code: 11, msg: 'solve the challenge first' })
      throw new ProtocolError('CRT_ACCOUNT', { code: 11, msg: 'solve the challenge first' })
    })
    await store.start({ nickName: 'Cy', interests: [] })
    expect(toasts(store)).toEqual(["We could not check that you're not a bot. Please try again in a moment."])
    expect(store.state.proving).toBeNull()
    await store.start({ nickName: 'Cy', interests: [] })
    expect(client.match).toHaveBeenCalled()
  })
})

describe('the chat lifecycle', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  test('Leave, Really?, then the chat ends and New chat looks for the next', async () => {
    const { store, client, chat } = inChat(createChatStore)
    await store.stepLeave(chat)
    expect(chat.leaveStep).toBe(1)
    expect(client.leave).not.toHaveBeenCalled()
    await store.stepLeave(chat)
    expect(client.leave).toHaveBeenCalledWith(SESSION)
    expect(chat.status).toBe('ended')
    expect(texts(chat)).toEqual(['* You left the chat.'])
    await store.newChat(chat)
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

  for (const [reason, sentence] of [
    [EndReason.Restarted, 'Duet was restarted, so this chat ended.'],
    [EndReason.Expired, 'You were away too long, so this chat ended.'],
  ]) {
    test(`${reason}: the chats stay, ended, with what was not sent; New chat makes a new account`, async () => {
      const { store, client, chat } = inChat(createChatStore)
      store.send(chat, 'typed while the server was down')
      client.emit('ended', { reason })
      client.sent[0].reject(new OfflineError())
      await vi.waitFor(() => expect(marks(chat)).toEqual(['failed']))
      expect(chat.status).toBe('ended')
      expect(texts(chat).at(-1)).toBe(`* ${sentence}`)
      expect(store.state.me).toBeNull()
      await store.newChat(chat)
      expect(client.createAccount).toHaveBeenCalledWith('Ann')
      expect(client.match).toHaveBeenCalled()
      expect(store.state.ended).toBeNull()
    })
  }

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

  test('a partner who left can still be reported; too late, the page says so', async () => {
    const { store, client, chat } = inChat(createChatStore)
    signal(client, 'PartnerExit', { reason: 'left' })
    expect(await store.report(chat, 'spam', '')).toBe(true)
    expect(texts(chat).slice(-2)).toEqual(['* Bob left the chat.', '* Thank you. Your report was sent.'])
    expect(chat.reported).toBe(true)

    const other = inChat(createChatStore)
    signal(other.client, 'PartnerExit', { reason: 'left' })
    other.client.report.mockRejectedValueOnce(new ProtocolError('REPORT', { code: 8, msg: 'the session has ended' }))
    expect(await other.store.report(other.chat, 'spam', '')).toBe(false)
    expect(toasts(other.store)).toEqual(['This chat is too old to report now: its messages are no longer kept.'])
  })
})

test('the transcript is plain text with who said what', () => {
  const { store, client, chat } = inChat(createChatStore)
  partnerMessage(client, 20002, 'hi <there>')
  signal(client, 'PartnerExit', { reason: 'left' })
  const text = chatTranscript(chat, store.state.me, t, () => 'when')
  expect(text).toContain('Duet chat with Bob\nShared interests: music\n')
  expect(text).toMatch(/\[when\] Bob: hi <there>\n\* Bob left the chat\.\n$/)
})
