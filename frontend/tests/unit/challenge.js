// Proof-of-work challenges made the way the server makes them (docs/protocol.md, "Proof of
// work (extension)"), with Node's own crypto, for the solver and the clients under test.
import { createHash, createHmac, randomBytes, randomInt } from 'node:crypto'

const KEY = randomBytes(32)

/**
 * An ALTCHA challenge whose answer is number (by default a random one in 0..maxnumber).
 * @returns {{challenge: object, number: number}}
 */
export function makeChallenge(maxnumber, number = randomInt(0, maxnumber + 1)) {
  const salt = `${randomBytes(12).toString('hex')}?expires=${Math.floor(Date.now() / 1000) + 300}`
  const challenge = createHash('sha256').update(salt + number).digest('hex')
  const signature = createHmac('sha256', KEY).update(challenge).digest('hex')
  return { challenge: { algorithm: 'SHA-256', challenge, salt, maxnumber, signature }, number }
}
