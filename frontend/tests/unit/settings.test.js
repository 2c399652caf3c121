import { afterEach, expect, test } from 'vitest'
import { limits, loadSettings } from '../../src/settings.js'

const defaults = { ...limits }
afterEach(() => Object.assign(limits, defaults))

const answer = (status, body) => async () => ({ ok: status === 200, json: async () => body })

test("the server's settings replace the defaults", async () => {
  await loadSettings(answer(200, { maxSessions: 5, maxContent: 500, maxNickname: 12, interestWaitMs: 2500 }))
  expect(limits).toMatchObject({ sessions: 5, content: 500, nickname: 12, interestWaitMs: 2500, note: 500 })
})

test('a malformed setting keeps its default', async () => {
  await loadSettings(answer(200, { maxSessions: '5', maxContent: 1.5, maxNickname: -1 }))
  expect(limits).toEqual(defaults)
})

test('no settings, no change', async () => {
  await loadSettings(answer(404, null))
  await loadSettings(async () => {
    throw new TypeError('Failed to fetch')
  })
  expect(limits).toEqual(defaults)
})
