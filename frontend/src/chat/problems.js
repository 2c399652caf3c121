// Readable words for every non-zero reply code (docs/protocol.md, "Reply codes"), shown as
// non-blocking notes. The server's own msg is a short sentence safe to show, used where our
// words would say less.
import { Code } from '../protocol/client.js'

/**
 * @param {{cmd: string, code: number, msg?: string, retryAfterMs?: number, until?: number, reason?: string}} p
 * @returns {string|null} the text to show, or null when the page already shows what happened
 */
export function describeProblem(p) {
  switch (p.code) {
    case Code.ParamErr:
      return `That was not accepted: ${p.msg || 'the request was invalid'}.`
    case Code.InternalErr:
      return p.cmd === 'DIALOGUE'
        ? 'The server could not store your message; trying again…'
        : 'Something went wrong on the server. Please try again.'
    case Code.UnknownErr:
      return 'Something went wrong. Please try again.'
    case Code.NoDataFound:
      return p.cmd === 'VIEWED_ACK' ? null : 'That chat is no longer there.'
    case Code.Unauthorized:
      return 'That is not allowed from this page.'
    case Code.RateLimited: {
      const seconds = Math.max(1, Math.ceil((p.retryAfterMs || 1000) / 1000))
      return `You're going a bit fast. Try again in ${seconds} s.`
    }
    case Code.Banned:
      return banText(p.reason, p.until)
    case Code.SessionEnded:
      // A read receipt or typing signal racing the partner's exit: the exit is shown already.
      return p.cmd === 'VIEWED_ACK' || p.cmd === 'TYPING' ? null : 'This chat has ended.'
    case Code.LimitReached:
      return "You're already in as many chats as allowed at once. Leave one to start another."
    case Code.Unavailable:
      // Only MATCH gets it, while an operator has paused matching.
      return 'The moderators have paused new chats for a while. Please try again later.'
    default:
      return p.msg ? `Something went wrong: ${p.msg}.` : 'Something went wrong.'
  }
}

/** Words for a ban or a kick: why, and until when (until 0 or absent: not time-limited). */
export function banText(reason, until) {
  const why = reason ? ` Reason: ${reason}.` : ''
  if (!until) return `You have been removed from Duet.${why}`
  return `You are banned from Duet until ${new Date(until).toLocaleString()}.${why}`
}
