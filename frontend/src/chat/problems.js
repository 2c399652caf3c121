// What to tell a person about every non-zero reply code (docs/protocol.md, "Reply codes"),
// as a message key of the catalogue and its parameters. The server's own msg is a short
// English sentence, passed on where our words would say less.
import { Code } from '../protocol/client.js'

/**
 * @param {{cmd: string, code: number, msg?: string, retryAfterMs?: number}} p
 * @returns {{key: string, params: object}|null} what to show, or null when the page already shows what happened
 */
export function describeProblem(p) {
  const say = (key, params = {}) => ({ key, params })
  switch (p.code) {
    case Code.ParamErr:
      return say('problem.invalid', { msg: p.msg || '' })
    case Code.InternalErr:
      return say('problem.server')
    case Code.UnknownErr:
      return say('problem.unknown')
    case Code.NoDataFound:
      return say('problem.noChat')
    case Code.Unauthorized:
      return say('problem.unauthorized')
    case Code.RateLimited:
      return say('problem.tooFast', { n: Math.max(1, Math.ceil((p.retryAfterMs || 1000) / 1000)) })
    case Code.Banned:
      return null // the banned view says it
    case Code.SessionEnded:
      return say('problem.ended')
    case Code.LimitReached:
      return say('problem.limit')
    case Code.Unavailable:
      // MATCH gets it while an operator has paused matching; any request while a node stops.
      return say(p.cmd === 'MATCH' ? 'problem.paused' : 'problem.stopping')
    default:
      return say('problem.unknown')
  }
}
