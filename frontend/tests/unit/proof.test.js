// @vitest-environment node
import { afterEach, expect, test, vi } from 'vitest'
import { findNumber } from '../../src/protocol/proof.js'
import { makeChallenge } from './challenge.js'

afterEach(() => vi.restoreAllMocks())

test('finds the number of a challenge made with Node’s crypto', async () => {
  for (let i = 0; i < 5; i++) {
    const { challenge, number } = makeChallenge(20000)
    expect(await findNumber(challenge)).toBe(number)
  }
  const { challenge } = makeChallenge(5000, 5000)
  expect(await findNumber(challenge), 'maxnumber itself is in range').toBe(5000)
})

test('null when no number in range fits, or the challenge is not SHA-256', async () => {
  const { challenge } = makeChallenge(1000, 1001)
  expect(await findNumber(challenge)).toBeNull()
  const fits = makeChallenge(1000).challenge
  expect(await findNumber({ ...fits, algorithm: 'SHA-512' })).toBeNull()
  expect(await findNumber({ ...fits, challenge: 'not hex' })).toBeNull()
})

test('progress: a rising share of the range, at most ten times a second', async () => {
  // A clock that moves 10 ms each time the solver looks at it, once per 1024 numbers.
  let ms = 0
  vi.spyOn(performance, 'now').mockImplementation(() => (ms += 10))
  const { challenge, number } = makeChallenge(100000, 100000)
  const reports = []
  expect(await findNumber(challenge, (fraction) => reports.push({ fraction, ms }))).toBe(number)
  expect(reports.length).toBeGreaterThan(5)
  expect(reports.length).toBeLessThanOrEqual(ms / 100)
  for (let i = 1; i < reports.length; i++) {
    expect(reports[i].fraction).toBeGreaterThan(reports[i - 1].fraction)
    expect(reports[i].ms - reports[i - 1].ms).toBeGreaterThanOrEqual(100)
  }
  expect(reports.at(-1).fraction).toBeLessThan(1)
})

test('other tasks run while it solves, so that a terminate() stops it at once', async () => {
  let ticks = 0
  const ticker = setInterval(() => ticks++, 10)
  const { challenge, number } = makeChallenge(200000, 200000)
  expect(await findNumber(challenge)).toBe(number)
  clearInterval(ticker)
  expect(ticks).toBeGreaterThan(0)
})
