// The page's state: the account, the search, the chats and their messages, built from the
// protocol client's events. Views read `state` and call the actions; only this module talks
// to the client. Words are never stored here: every line a person reads is a message key of
// the catalogue (src/i18n) and its parameters, {key, params}, so a change of language
// changes what is already on screen.
import { reactive } from 'vue'
import { Code, EndReason, ProtocolError } from '../protocol/client.js'
import { TypingNotifier } from './typing.js'
import { describeProblem } from './problems.js'
import { limits } from '../settings.js'
import en from '../i18n/en.js'

/** The REPORT categories, with their English names (the admin page's, which is in English). */
export const reportCategories = Object.freeze(Object.entries(en.report.categories).map(([value, label]) => ({ value, label })))

const exitReasons = ['left', 'logout', 'timeout', 'removed']

const CHATS_KEY = 'duet.chats' // sessionId → commonInterests, which RECONNECT does not repeat
const DISMISSED_KEY = 'duet.notice.dismissed' // the notice this tab closed
const TOAST_MS = 6000
const TOASTS_SHOWN = 3 // more than this and the oldest goes

/** Whether an ending keeps the visitor out for a while: a ban (a kick with an end time, or code 7). */
export function barred(ended) {
  return ended?.reason === EndReason.Banned || (ended?.reason === EndReason.Kicked && ended.until > 0)
}

/** What an own message shows: 'sending' | 'failed' | 'sent' | 'delivered' | 'seen'. */
export function receipt(c, it) {
  if (it.state !== 'stored') return it.state
  if (it.msgId <= c.seenThrough) return 'seen'
  if (it.msgId <= c.deliveredThrough) return 'delivered'
  return 'sent'
}

/**
 * @param {import('../protocol/client.js').DuetClient} client
 * @param {object} [o]
 * @param {Storage} [o.storage] where the chats' shared interests survive a reload
 * @param {() => number} [o.now]
 * @param {(chat: object) => void} [o.onPartnerMessage] e.g. a sound, for unseen messages
 */
export function createChatStore(client, o = {}) {
  const storage = o.storage || globalThis.sessionStorage
  const now = o.now || Date.now
  const state = reactive({
    me: null, // {accountId, nickName}
    nickName: '', // the last nickname used, for a new account after the old one ended
    connection: 'offline', // 'connecting' | 'online' | 'reconnecting' | 'offline'
    restoring: false,
    interests: [], // the user's tags, used for each new search
    searching: null, // {since, interests} while queued for a partner
    chats: [],
    activeId: null, // the sessionId shown, or 'search'
    ended: null, // {reason, until?, why?}: the client stopped for good
    startAfter: 0, // when Start may be pressed again after a rate limit (ms), 0 if it may now
    proving: null, // while Start solves the server's proof-of-work challenge: the share tried, 0 to 1
    notice: null, // {text, level, until}: the operator's current notice, until dismissed
    toasts: [], // {id, key, params, level}
    announcement: null, // {key, params}: read out by the page's aria-live region
    focused: true, // the page is visible and has focus
  })
  const typers = new Map() // sessionId → TypingNotifier
  let itemKey = 0
  let toastId = 0
  let noticeTimer = null

  const chat = (sessionId) => state.chats.find((c) => c.sessionId === sessionId)
  const name = (c) => c.partnerName

  function announce(key, params = {}) {
    state.announcement = { key, params }
  }

  /** Shows a note; the same note already on screen is not shown twice, it stays longer. */
  function toast(key, params = {}, level = 'error') {
    const same = state.toasts.find((t) => t.key === key && JSON.stringify(t.params) === JSON.stringify(params))
    const id = ++toastId
    if (same) same.id = id
    else state.toasts.push({ id, key, params, level })
    if (state.toasts.length > TOASTS_SHOWN) state.toasts.shift()
    setTimeout(() => dismissToast(id), TOAST_MS)
  }

  function dismissToast(id) {
    const i = state.toasts.findIndex((t) => t.id === id)
    if (i >= 0) state.toasts.splice(i, 1)
  }

  function system(c, key, params = {}) {
    c.items.push({ key: ++itemKey, kind: 'system', text: { key, params } })
  }

  function remember() {
    const kept = Object.fromEntries(state.chats.map((c) => [c.sessionId, c.commonInterests]))
    storage.setItem(CHATS_KEY, JSON.stringify(kept))
  }

  function remembered() {
    try {
      return JSON.parse(storage.getItem(CHATS_KEY)) || {}
    } catch {
      return {}
    }
  }

  function addChat(s, { announceIt = true } = {}) {
    let c = chat(s.sessionId)
    if (c) return c
    state.chats.push({
      sessionId: s.sessionId,
      partnerId: s.partnerId,
      partnerName: s.partnerName || '?',
      commonInterests: s.commonInterests || [],
      startedAt: now(),
      items: [],
      status: 'live', // 'live' | 'away' | 'ended'
      ending: null, // {key, params}: why it ended
      partnerTyping: false,
      unread: 0,
      viewedThrough: 0, // the partner's newest msgId we have told the server we saw
      deliveredThrough: 0, // the partner's receipts of our messages: DELIVERED_ACK …
      seenThrough: 0, // … and VIEWED_ACK
      reported: false,
      leaveStep: 0, // 0: "Leave", 1: "Really?"
    })
    c = state.chats[state.chats.length - 1]
    typers.set(c.sessionId, new TypingNotifier((typing) => client.typing(c.sessionId, typing)))
    remember()
    if (announceIt) announce('chat.intro', { name: name(c) })
    return c
  }

  /** Inserts a message by msgId, dropping duplicates; returns whether it was new. */
  function insertMessage(c, m) {
    if (c.items.some((it) => it.msgId === m.msgId)) return false
    const item = { key: ++itemKey, kind: 'message', ...m }
    const at = c.items.findIndex((it) => it.kind === 'message' && (it.msgId === null || it.msgId > m.msgId))
    if (at < 0) c.items.push(item)
    else c.items.splice(at, 0, item)
    return true
  }

  function end(c, key, params = {}) {
    if (c.status === 'ended') return
    c.status = 'ended'
    c.ending = { key, params }
    c.partnerTyping = false
    c.leaveStep = 0
    typers.get(c.sessionId)?.stop(false)
    system(c, key, params)
    announce(key, params)
  }

  function moveWatermark(c, field, msgId) {
    if (msgId > c[field]) c[field] = msgId
  }

  function showNotice(n) {
    clearTimeout(noticeTimer)
    const text = String(n.text || '').trim()
    const until = Number.isSafeInteger(n.until) && n.until > 0 ? n.until : 0
    if (!text || (until && until <= now()) || storage.getItem(DISMISSED_KEY) === JSON.stringify([text, until])) {
      state.notice = null
      return
    }
    state.notice = { text, level: n.level === 'warning' ? 'warning' : 'info', until }
    // setTimeout's limit is about 24 days; a notice meant to last longer is shown until reload.
    if (until && until - now() < 2 ** 31) noticeTimer = setTimeout(() => (state.notice = null), until - now())
  }

  client.on('status', ({ state: s }) => (state.connection = s))
  client.on('proving', ({ fraction }) => (state.proving = fraction))
  client.on('account', (a) => {
    state.me = a
    state.nickName = a.nickName
  })
  client.on('session', (s) => {
    const c = addChat(s)
    if (state.searching) {
      state.searching = null
      state.activeId = c.sessionId
    } else if (state.activeId === null || state.activeId === 'search') {
      state.activeId = c.sessionId
    }
  })
  client.on('restored', ({ sessions }) => {
    const kept = remembered()
    const live = new Set(sessions.map((s) => s.sessionId))
    for (const c of state.chats) {
      if (!live.has(c.sessionId)) end(c, 'chat.endedAway')
    }
    for (const s of sessions) {
      const c = addChat({ ...s, commonInterests: kept[s.sessionId] || [] }, { announceIt: false })
      moveWatermark(c, 'deliveredThrough', s.deliveredMsgId || 0)
      moveWatermark(c, 'seenThrough', s.viewedMsgId || 0)
    }
    if (state.activeId === null && state.chats.length) state.activeId = state.chats[0].sessionId
  })
  client.on('message', (m) => {
    const c = chat(m.sessionId)
    if (!c) return
    const own = m.senderId === state.me?.accountId
    const added = insertMessage(c, {
      msgId: m.msgId,
      requestId: null,
      own,
      content: m.content,
      sentAt: m.sentAt,
      state: own ? 'stored' : null,
    })
    if (!added || own) return
    c.partnerTyping = false
    if (state.activeId !== c.sessionId || !state.focused) {
      c.unread++
      o.onPartnerMessage?.(c)
    }
  })
  client.on('delivered', ({ sessionId, msgId }) => {
    const c = chat(sessionId)
    if (c) moveWatermark(c, 'deliveredThrough', msgId)
  })
  client.on('viewed', ({ sessionId, msgId }) => {
    const c = chat(sessionId)
    if (!c) return
    moveWatermark(c, 'seenThrough', msgId)
    moveWatermark(c, 'deliveredThrough', msgId)
  })
  client.on('resumed', ({ sessionId, complete }) => {
    const c = chat(sessionId)
    if (c && !complete) c.items.unshift({ key: ++itemKey, kind: 'system', text: { key: 'chat.earlierGone', params: {} } })
  })
  client.on('signal', (s) => {
    const c = chat(s.sessionId)
    switch (s.signalType) {
      case 'PartnerAway':
        if (c && c.status === 'live') {
          c.status = 'away'
          c.partnerTyping = false
          system(c, 'chat.away', { name: name(c) })
          announce('chat.away', { name: name(c) })
        }
        break
      case 'PartnerBack':
        if (c && c.status === 'away') {
          c.status = 'live'
          system(c, 'chat.back', { name: name(c) })
          announce('chat.back', { name: name(c) })
        }
        break
      case 'PartnerExit':
        if (c) end(c, `chat.exit.${exitReasons.includes(s.data.reason) ? s.data.reason : 'left'}`, { name: name(c) })
        break
      case 'Typing':
        if (c && c.status !== 'ended') c.partnerTyping = !!s.data.typing
        break
      case 'Notice':
        showNotice(s.data)
        if (state.notice) announce('notice.announce', { text: state.notice.text })
        break
    }
  })
  client.on('problem', (p) => {
    // What is answered where it was asked: an unknown account after a reload, a refused
    // nickname, a start that must wait or prove itself, a message refused (its bubble says so), and receipts
    // and typing signals, which are background chatter no one asked for.
    if (p.cmd === 'RECONNECT' && p.code === Code.NoDataFound) return
    if (p.cmd === 'CRT_ACCOUNT' && [Code.ParamErr, Code.RateLimited, Code.ChallengeRequired].includes(p.code)) return
    if (['DIALOGUE', 'VIEWED_ACK', 'DELIVERED_ACK', 'TYPING'].includes(p.cmd)) return
    const text = describeProblem(p)
    if (text) toast(text.key, text.params)
  })
  client.on('ended', ({ reason, data }) => {
    state.searching = null
    for (const t of typers.values()) t.stop(false)
    const until = Number(data?.until) || 0
    const why = typeof data?.reason === 'string' ? data.reason : ''
    if (reason === EndReason.Kicked || reason === EndReason.Banned) {
      for (const c of state.chats) end(c, until ? 'ended.bannedChat' : 'ended.removedChat')
    }
    if (reason === EndReason.Expired || reason === EndReason.Restarted) {
      // The account is gone, the chats with it; they stay on screen, ended, with anything
      // that could not be sent marked so, until the user starts anew.
      state.me = null
      const key = reason === EndReason.Restarted ? 'ended.restartedChat' : 'ended.expiredChat'
      for (const c of state.chats) end(c, key)
    }
    state.ended = { reason, until, why }
    announce(`ended.${reason}`, { until, why })
  })

  function showError(err) {
    // Refusals with a code have been shown from the problem event.
    if (!(err instanceof ProtocolError)) toast('problem.offline')
  }

  /** A fresh account, when the old one has ended or there never was one. Returns whether there is one. */
  async function ensureAccount(nickName) {
    if (state.me) return true
    if (now() < state.startAfter) return false
    try {
      await client.createAccount(nickName)
      state.ended = null
      return true
    } catch (err) {
      // A ban ends the client as it connects: the banned view says so, not a connection problem.
      // A cancelled start is back where it began, which says enough.
      if (barred(state.ended) || err.name === 'AbortError') return false
      if (!(err instanceof ProtocolError)) toast('problem.unreachable')
      else if (err.code === Code.ParamErr) toast('problem.nickname', { msg: err.message })
      else if (err.code === Code.RateLimited) state.startAfter = now() + Math.max(1000, err.reply.retryAfterMs || 1000)
      else if (err.code === Code.ChallengeRequired) toast('problem.challenge')
      return false
    } finally {
      state.proving = null
    }
  }

  /** Sends an own message's text and tracks it in item until stored or refused. */
  function deliver(c, item) {
    const { requestId, stored } = client.send(c.sessionId, item.content)
    item.requestId = requestId
    item.state = 'sending'
    item.error = null
    stored.then(
      (msgId) => {
        const i = c.items.indexOf(item)
        if (i < 0) return // deleted meanwhile
        const [pending] = c.items.splice(i, 1)
        // RESUME may have brought the stored copy first; it stands for this one then.
        insertMessage(c, { ...pending, msgId, requestId: null, state: 'stored' })
      },
      (err) => {
        item.state = 'failed'
        item.error = err instanceof ProtocolError ? { code: err.code, msg: err.message } : { code: null, msg: '' }
      },
    )
  }

  const actions = {
    /** Reloaded page: come back to the tab's account and its chats. */
    async restore() {
      if (!client.credentials) return
      state.restoring = true
      try {
        await client.restore()
      } finally {
        state.restoring = false
      }
    },

    /** Landing's Start: an account if there is none yet, then a search. */
    async start({ nickName, interests }) {
      state.interests = interests
      if (await ensureAccount(nickName)) await actions.search(interests)
    },

    /** Stops a Start that is still solving its proof of work; the landing is as it was. */
    cancelStart() {
      client.cancelAccount()
    },

    /** Queues for a partner; the chat opens from the session event. */
    async search(interests = state.interests) {
      if (state.searching) {
        state.activeId = 'search'
        return
      }
      if (!(await ensureAccount(state.nickName))) return
      state.searching = { since: now(), interests }
      state.activeId = 'search'
      try {
        await client.match(interests)
      } catch (err) {
        state.searching = null
        if (state.activeId === 'search') state.activeId = state.chats.at(-1)?.sessionId ?? null
        showError(err)
      }
    },

    async cancelSearch() {
      state.searching = null
      state.activeId = state.chats.at(-1)?.sessionId ?? null
      await client.cancelMatch().catch(showError)
    },

    /** Gives up on shared interests: queue again without them. */
    async talkToAnyone() {
      try {
        await client.cancelMatch()
      } catch (err) {
        return showError(err)
      }
      state.searching = null
      await actions.search([])
    },

    activate(id) {
      state.activeId = id
    },

    setFocused(focused) {
      state.focused = focused
    },

    typing(c, text) {
      if (c.status !== 'ended') typers.get(c.sessionId)?.input(text)
    },

    /** Sends text; returns false (and says why) when it cannot be sent. */
    send(c, text) {
      if (c.status === 'ended' || !text.trim()) return false
      if ([...text].length > limits.content) {
        toast('problem.tooLong', { n: limits.content })
        return false
      }
      typers.get(c.sessionId)?.stop(false)
      c.items.push({ key: ++itemKey, kind: 'message', msgId: null, requestId: null, own: true, content: text, sentAt: now(), state: 'sending', error: null })
      deliver(c, c.items.at(-1))
      return true
    },

    /** Sends a message that was not sent again, as a new message. */
    retry(c, item) {
      if (c.status === 'ended' || item.state !== 'failed') return
      item.sentAt = now()
      // A retried message goes to the end, where the partner will see it.
      c.items.splice(c.items.indexOf(item), 1)
      c.items.push(item)
      deliver(c, c.items.at(-1))
    },

    /** Removes a message that was not sent. */
    discard(c, item) {
      if (item.state !== 'failed') return
      c.items.splice(c.items.indexOf(item), 1)
    },

    /** The user has seen the partner's messages up to msgId in a focused tab. */
    seen(c, msgId) {
      c.unread = 0
      if (msgId <= c.viewedThrough || c.status === 'ended') return
      c.viewedThrough = msgId
      client.viewed(c.sessionId, msgId)
    },

    /** The Leave button and Esc: "Leave", then "Really?", then the chat ends. */
    async stepLeave(c) {
      if (c.status === 'ended') return
      if (c.leaveStep === 0) {
        c.leaveStep = 1
        return
      }
      try {
        await client.leave(c.sessionId)
      } catch (err) {
        if (!(err instanceof ProtocolError && err.code === Code.SessionEnded)) {
          c.leaveStep = 0
          return showError(err)
        }
      }
      end(c, 'chat.youLeft')
    },

    cancelLeave(c) {
      c.leaveStep = 0
    },

    /** Closes an ended chat and looks for the next partner. */
    async newChat(c) {
      actions.close(c)
      await actions.search()
    },

    /** Removes an ended chat's tab. */
    close(c) {
      if (c.status !== 'ended') return
      const i = state.chats.indexOf(c)
      state.chats.splice(i, 1)
      typers.delete(c.sessionId)
      remember()
      if (state.activeId === c.sessionId) {
        state.activeId = state.chats[Math.min(i, state.chats.length - 1)]?.sessionId ?? (state.searching ? 'search' : null)
      }
    },

    /**
     * Reports the partner, during the chat or after it ended while the server still keeps its
     * messages; a live chat ends. Returns whether the report was filed.
     */
    async report(c, category, note) {
      try {
        await client.report(c.sessionId, category, note.trim())
      } catch (err) {
        if (err instanceof ProtocolError && err.code === Code.SessionEnded) toast('problem.reportTooLate')
        else showError(err)
        return false
      }
      c.reported = true
      if (c.status === 'ended') {
        system(c, 'chat.reportedAfter')
        announce('chat.reportedAfter')
      } else {
        end(c, 'chat.reported')
      }
      return true
    },

    /** After another tab took the account: take it back, on the user's word. */
    async reclaim() {
      state.ended = null
      await actions.restore()
    },

    dismissEnded() {
      state.ended = null
    },

    dismissNotice() {
      if (!state.notice) return
      storage.setItem(DISMISSED_KEY, JSON.stringify([state.notice.text, state.notice.until]))
      clearTimeout(noticeTimer)
      state.notice = null
    },

    dismissToast,
  }

  return { state, ...actions }
}

/**
 * The chat as a text file, made in the browser.
 * @param {(key: string, params?: object) => string} t the catalogue's translate function
 * @param {(ms: number) => string} when a message's date and time in words
 */
export function chatTranscript(c, me, t, when) {
  const lines = [t('transcript.title', { name: c.partnerName }), '']
  if (c.commonInterests.length) lines.splice(1, 0, t('transcript.interests', { tags: c.commonInterests.join(', ') }))
  for (const it of c.items) {
    if (it.kind === 'system') {
      lines.push(`* ${t(it.text.key, it.text.params)}`)
      continue
    }
    const who = it.own ? me?.nickName || t('transcript.you') : c.partnerName
    lines.push(`[${when(it.sentAt)}] ${who}: ${it.content}`)
  }
  return lines.join('\n') + '\n'
}
