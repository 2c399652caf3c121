// The limits the page checks before it sends anything, and the operator's texts of the site.
// The server's own settings come from /settings.json (max_sessions, max_content, max_nickname,
// interest_wait, and site: site_name, site_contact, site_abuse and the rules and privacy
// files); until they arrive, or if they cannot be had, the documented defaults and the built-in
// texts stand. The server checks the limits again anyway.
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

/** The operator's texts; each empty one leaves the page's built-in text (or none) in place. */
export const site = reactive({ name: '', contact: '', abuse: '', rules: '', privacy: '' })

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
  for (const key of Object.keys(site)) {
    if (typeof got?.site?.[key] === 'string') site[key] = got.site[key].trim()
  }
}

/**
 * Where a contact address goes: mailto: for an email address, the URL itself for an http(s)
 * URL, and nowhere (null) for anything else.
 */
export function addressHref(address) {
  if (/^[^\s@<>]+@[^\s@<>]+$/.test(address)) return `mailto:${address}`
  try {
    const u = new URL(address)
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null
  } catch {
    return null
  }
}

/**
 * An operator's text as blocks to show: paragraphs are separated by blank lines, and a block
 * whose lines all start with "- " is a list.
 * @returns {{list: boolean, lines: string[]}[]}
 */
export function textBlocks(text) {
  return text
    .split(/\n\s*\n/)
    .map((block) => block.split('\n').map((l) => l.trim()).filter(Boolean))
    .filter((lines) => lines.length)
    .map((lines) =>
      lines.every((l) => l.startsWith('- ')) ? { list: true, lines: lines.map((l) => l.slice(2).trim()) } : { list: false, lines: [lines.join(' ')] },
    )
}
