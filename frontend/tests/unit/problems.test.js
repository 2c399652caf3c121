import { expect, test } from 'vitest'
import { describeProblem } from '../../src/chat/problems.js'
import { say } from './words.js'

test('every non-zero code but a ban reads as a sentence', () => {
  for (let code = 1; code <= 11; code++) {
    const line = describeProblem({ cmd: 'MATCH', code, msg: 'server words' })
    if (code === 7) {
      expect(line, 'a ban has its own view').toBeNull()
      continue
    }
    expect(say(line), `code ${code}`).toMatch(/^[A-Z].*[.…]$/)
  }
})

test('a rate limit says when to try again', () => {
  expect(say(describeProblem({ cmd: 'MATCH', code: 6, retryAfterMs: 2500 }))).toBe("You're going a bit fast. Try again in 3 s.")
})
