import { expect, test } from 'vitest'
import { describeProblem } from '../../src/chat/problems.js'

test('every non-zero code reads as a sentence', () => {
  for (let code = 1; code <= 11; code++) {
    const text = describeProblem({ cmd: 'MATCH', code, msg: 'server words' })
    expect(text, `code ${code}`).toMatch(/^[A-Z].*[.…]$/)
  }
})

test('a ban says until when and why', () => {
  const until = Date.UTC(2027, 0, 1)
  const text = describeProblem({ cmd: 'MATCH', code: 7, msg: 'banned', until, reason: 'spam' })
  expect(text).toContain(new Date(until).toLocaleString())
  expect(text).toContain('Reason: spam.')
})
