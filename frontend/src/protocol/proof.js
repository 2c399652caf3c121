// The proof of work CRT_ACCOUNT may ask for (docs/protocol.md, "Proof of work (extension)"):
// ALTCHA's challenge, the number whose SHA-256 after the salt is the challenge. It runs in a
// Web Worker (proof.worker.js) so that the page stays responsive, and in the unit tests as it
// is. SHA-256 comes from @noble/hashes rather than WebCrypto: in Chromium it is faster for these
// short inputs, and crypto.subtle is missing on a page served over plain http.
import { sha256 } from '@noble/hashes/sha2.js'
import { hexToBytes } from '@noble/hashes/utils.js'

const PROGRESS_MS = 100 // progress is reported at most ten times a second
const CLOCK_EVERY = 1024 // numbers tried between two looks at the clock

/**
 * Finds the number in 0..maxnumber with hex(SHA-256(salt + number)) equal to the challenge.
 * @param {{algorithm: string, challenge: string, salt: string, maxnumber: number}} c
 * @param {(fraction: number) => void} [onProgress] the share of 0..maxnumber tried so far
 * @returns {Promise<number|null>} null when no number in range fits, or the challenge is not one we solve
 */
export async function findNumber(c, onProgress = () => {}) {
  const valid =
    c?.algorithm === 'SHA-256' &&
    /^[0-9a-f]{64}$/i.test(c.challenge) &&
    typeof c.salt === 'string' &&
    Number.isSafeInteger(c.maxnumber) &&
    c.maxnumber >= 0
  if (!valid) return null
  const want = hexToBytes(c.challenge)
  const utf8 = new TextEncoder()
  let reported = performance.now()
  for (let n = 0; n <= c.maxnumber; n++) {
    if (same(sha256(utf8.encode(c.salt + n)), want)) return n
    if (n % CLOCK_EVERY === 0 && performance.now() - reported >= PROGRESS_MS) {
      onProgress(n / c.maxnumber)
      // Chromium stops a worker busy in one task only 2 s after terminate(); between tasks, at once.
      await nextTask()
      reported = performance.now()
    }
  }
  return null
}

function nextTask() {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel()
    port1.onmessage = () => {
      port1.close()
      resolve()
    }
    port2.postMessage(null)
  })
}

function same(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
