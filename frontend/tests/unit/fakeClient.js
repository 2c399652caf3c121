// A stand-in for the protocol client in tests of the page's state and views: it records what
// the page asks and lets the test play the server's events. The client itself is tested
// against a WebSocket server in client.test.js.
import { vi } from 'vitest'
import { memoryStorage } from './storage.js'

export const ME = 1111
export const PARTNER = 1212
export const SESSION = 10000

export function fakeClient() {
  const listeners = new Map()
  let nextRequest = 0
  const c = {
    credentials: null,
    sent: [], // {requestId, sessionId, content, resolve, reject}
    on(type, fn) {
      if (!listeners.has(type)) listeners.set(type, new Set())
      listeners.get(type).add(fn)
      return () => listeners.get(type).delete(fn)
    },
    emit(type, detail) {
      for (const fn of listeners.get(type) || []) fn(detail)
    },
    createAccount: vi.fn(async (nickName) => {
      c.emit('account', { accountId: ME, nickName })
      return { accountId: ME, nickName }
    }),
    cancelAccount: vi.fn(),
    restore: vi.fn(async () => null),
    match: vi.fn(async () => null),
    cancelMatch: vi.fn(async () => {}),
    send: vi.fn((sessionId, content) => {
      const requestId = `r${++nextRequest}`
      let resolve, reject
      const stored = new Promise((res, rej) => ((resolve = res), (reject = rej)))
      c.sent.push({ requestId, sessionId, content, resolve, reject })
      return { requestId, stored }
    }),
    viewed: vi.fn(async () => ({ code: 0 })),
    typing: vi.fn(),
    leave: vi.fn(async () => ({ code: 0 })),
    report: vi.fn(async () => ({ code: 0, reportId: 30001 })),
  }
  return c
}

/** A store whose account is Ann, in a chat with Bob who shares "music". */
export function inChat(createChatStore, client = fakeClient(), options = {}) {
  const store = createChatStore(client, { storage: memoryStorage(), ...options })
  client.emit('account', { accountId: ME, nickName: 'Ann' })
  client.emit('session', { sessionId: SESSION, partnerId: PARTNER, partnerName: 'Bob', commonInterests: ['music'] })
  return { store, client, chat: store.state.chats[0] }
}

export function partnerMessage(client, msgId, content = `m${msgId}`) {
  client.emit('message', { sessionId: SESSION, msgId, senderId: PARTNER, content, sentAt: 1767225600000 })
}

export function signal(client, signalType, data = {}, sessionId = SESSION) {
  client.emit('signal', { signalType, sessionId, senderId: PARTNER, data: { accountId: PARTNER, ...data } })
}
