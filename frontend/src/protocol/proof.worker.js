// The thread that solves a proof-of-work challenge (proof.js): it gets the challenge, posts
// {fraction} now and then and {number} at the end. The page terminates it to cancel.
import { findNumber } from './proof.js'

self.onmessage = async ({ data }) => {
  const number = await findNumber(data, (fraction) => self.postMessage({ fraction }))
  self.postMessage({ number })
}
