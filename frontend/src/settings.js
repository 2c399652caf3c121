// The limits the page checks before it sends anything. The server's own settings come from
// /settings.json (max_sessions, max_content, max_nickname, interest_wait); until they arrive,
// or if they cannot be had, the documented defaults stand. The server checks again anyway.
import { reactive } from 'vue'

export const limits = reactive({
  sessions: 3, // max_sessions
  content: 2000, // max_content, in code points
  nickname: 30, // max_nickname, in code points
  interestWaitMs: 10000, // interest_wait: then the page offers to talk to anyone
  interests: 10, // fixed by the protocol
  interest: 30,
  note: 500,
})

const fromServer = { maxSessions: 'sessions', maxContent: 'content', maxNickname: 'nickname', interestWaitMs: 'interestWaitMs' }

/** Takes the server's settings; anything missing or malformed keeps its default. */
export async function loadSettings(fetchImpl = globalThis.fetch) {
  let got
  try {
    const res = await fetchImpl('/settings.json')
    if (!res.ok) return
    got = await res.json()
  } catch {
    return
  }
  for (const [key, limit] of Object.entries(fromServer)) {
    if (Number.isSafeInteger(got?.[key]) && got[key] >= 0) limits[limit] = got[key]
  }
}
