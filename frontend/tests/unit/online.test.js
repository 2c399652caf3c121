import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import OnlineCount from '../../src/components/OnlineCount.vue'
import { ONLINE_POLL_MS, SEARCHING_POLL_MS } from '../../src/chat/online.js'
import { createChatStore } from '../../src/chat/store.js'
import { fakeClient } from './fakeClient.js'
import { memoryStorage } from './storage.js'
import { catalogue } from './words.js'

beforeEach(() => vi.useFakeTimers())
afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
})

/** fetch answering /online.json from what the test sets in answer.now. */
function server() {
  const answer = { now: { online: 12, waiting: 3 } }
  const fetch = vi.fn(async (url) => {
    expect(url).toBe('/online.json')
    const a = answer.now
    if (a instanceof Error) throw a
    return { ok: a !== 503, json: async () => a }
  })
  vi.stubGlobal('fetch', fetch)
  return { answer, fetch }
}

/** Mounts the count for a visitor with the store's state, in English. */
function mountCount(props = {}, store = createChatStore(fakeClient(), { storage: memoryStorage() })) {
  return mount(OnlineCount, { props, global: { plugins: [catalogue()], provide: { chat: store } } })
}

test('the count shows, and is read again every 15 s', async () => {
  const { answer, fetch } = server()
  const w = mountCount()
  await vi.advanceTimersByTimeAsync(0)
  expect(w.text()).toBe('12 people online')
  answer.now = { online: 1, waiting: 0 }
  await vi.advanceTimersByTimeAsync(ONLINE_POLL_MS)
  expect(w.text()).toBe('1 person online')
  expect(fetch).toHaveBeenCalledTimes(2)
  w.unmount()
  await vi.advanceTimersByTimeAsync(ONLINE_POLL_MS)
  expect(fetch).toHaveBeenCalledTimes(2)
})

test('while searching: the visitor counts, and the figure is read every few seconds', async () => {
  const { answer, fetch } = server()
  answer.now = { online: 0, waiting: 0 } // the server's figure from before this visitor came
  const client = fakeClient()
  const store = createChatStore(client, { storage: memoryStorage() })
  await store.start({ nickName: 'Ann', interests: [] })
  const w = mountCount({ waiting: true }, store)
  await vi.advanceTimersByTimeAsync(0)
  expect(w.text()).toBe('1 person online, 1 waiting for a partner')
  answer.now = { online: 5, waiting: 2 }
  await vi.advanceTimersByTimeAsync(SEARCHING_POLL_MS)
  expect(w.text()).toBe('5 people online, 2 waiting for a partner')
  expect(fetch).toHaveBeenCalledTimes(2)
  w.unmount()
})

test('a visitor whose Start is proving itself counts as online, before the account exists', async () => {
  const { answer } = server()
  answer.now = { online: 0, waiting: 0 }
  const client = fakeClient()
  const w = mountCount({}, createChatStore(client, { storage: memoryStorage() }))
  await vi.advanceTimersByTimeAsync(0)
  expect(w.text()).toBe('0 people online')
  client.emit('proving', { fraction: 0.1 })
  await vi.advanceTimersByTimeAsync(0)
  expect(w.text()).toBe('1 person online')
  w.unmount()
})

test('without waiting, only who is online', async () => {
  server()
  const w = mountCount()
  await vi.advanceTimersByTimeAsync(0)
  expect(w.text()).toBe('12 people online')
  w.unmount()
})

for (const [name, failure] of [
  ['an error status', 503],
  ['no server', new TypeError('Failed to fetch')],
  ['a malformed answer', { online: '12', waiting: 3 }],
]) {
  test(`${name} hides the figure quietly`, async () => {
    const { answer } = server()
    const w = mountCount()
    await vi.advanceTimersByTimeAsync(0)
    expect(w.text()).toContain('12 people online')
    answer.now = failure
    await vi.advanceTimersByTimeAsync(ONLINE_POLL_MS)
    expect(w.find('.online').exists()).toBe(false)
    w.unmount()
  })
}
