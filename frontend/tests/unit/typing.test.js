import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import { TypingNotifier } from '../../src/chat/typing.js'

let sent, typing
beforeEach(() => {
  vi.useFakeTimers()
  sent = []
  typing = new TypingNotifier((t) => sent.push(t), { now: () => Date.now() })
})
afterEach(() => vi.useRealTimers())

test('true when typing starts, refreshed every 3 s, false after 5 s without a key', () => {
  typing.input('h')
  typing.input('he')
  expect(sent).toEqual([true])
  vi.advanceTimersByTime(3000)
  typing.input('hel')
  expect(sent).toEqual([true, true])
  vi.advanceTimersByTime(4999)
  expect(sent).toEqual([true, true])
  vi.advanceTimersByTime(1)
  expect(sent).toEqual([true, true, false])
})

test('at most two frames a second however fast the keys', () => {
  for (let i = 0; i < 100; i++) {
    typing.input('x'.repeat(i + 1))
    vi.advanceTimersByTime(50)
  }
  expect(sent.length).toBeLessThanOrEqual(2 * 5 + 1)
})

test('emptying the box says false at once', () => {
  typing.input('hi')
  typing.input('')
  expect(sent).toEqual([true, false])
  vi.advanceTimersByTime(10000)
  expect(sent).toEqual([true, false])
})

test('sending or leaving clears it silently: the server does', () => {
  typing.input('hi')
  typing.stop(false)
  vi.advanceTimersByTime(10000)
  expect(sent).toEqual([true])
})
