// The page's state: the account, the search, the chats and their messages, built from the
// protocol client's events. Views read `state` and call the actions; only this module talks
// to the client.
import { reactive } from 'vue'
import { Code, EndReason, ProtocolError } from '../protocol/client.js'
import { TypingNotifier } from './typing.js'
import { describeProblem, banText } from './problems.js'
import { limits } from '../settings.js'

export const reportCategories = Object.freeze([
  { value: 'spam', label: 'Spam or advertising' },
  { value: 'sexual', label: 'Unwanted sexual content' },
  { value: 'minor', label: 'Seems to be under 18' },
  { value: 'harassment', label: 'Harassment or hate' },
  { value: 'scam', label: 'Scam or fraud' },
  { value: 'other', label: 'Something else' },
])

const exitWords = {
  left: 'left the chat',
  logout: 'closed Duet',
  timeout: 'lost their connection and did not come back',
  removed: 'was removed by a moderator',
}

const CHATS_KEY = 'duet.chats' // sessionId → commonInterests, which RECONNECT does not repeat
const TOAST_MS = 6000

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
    connection: 'offline', // 'connecting' | 'online' | 'reconnecting' | 'offline'
    restoring: false,
    interests: [], // the user's tags, used for each new search
    searching: null, // {since, interests} while queued for a partner
    chats: [],
    activeId: null, // the sessionId shown, or 'search'
    ended: null, // {reason, text}: the client stopped for good
    toasts: [],
    announcement: '', // read out by the page's aria-live region for signals
    focused: true, // the page is visible and has focus
  })
  const typers = new Map() // sessionId → TypingNotifier
  let itemKey = 0
  let toastId = 0

  const chat = (sessionId) => state.chats.find((c) => c.sessionId === sessionId)
  const name = (c) => c.partnerName || 'Your partner'

  function announce(text) {
    state.announcement = text
  }

  function toast(text, level = 'error') {
    const id = ++toastId
    state.toasts.push({ id, text, level })
    setTimeout(() => dismissToast(id), TOAST_MS)
  }

  function dismissToast(id) {
    const i = state.toasts.findIndex((t) => t.id === id)
    if (i >= 0) state.toasts.splice(i, 1)
  }

  function system(c, text) {
    c.items.push({ key: ++itemKey, kind: 'system', text })
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
      partnerName: s.partnerName,
      commonInterests: s.commonInterests || [],
      items: [],
      status: 'live', // 'live' | 'away' | 'ended'
      partnerTyping: false,
      unread: 0,
      viewedThrough: 0, // the partner's newest msgId we have told the server we saw
      leaveStep: 0, // 0: "Leave", 1: "Really?"
    })
    c = state.chats[state.chats.length - 1]
    typers.set(c.sessionId, new TypingNotifier((typing) => client.typing(c.sessionId, typing)))
    remember()
    if (announceIt) announce(`You're now chatting with ${name(c)}.`)
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

  function end(c, text) {
    if (c.status === 'ended') return
    c.status = 'ended'
    c.partnerTyping = false
    c.leaveStep = 0
    typers.get(c.sessionId)?.stop(false)
    system(c, text)
    announce(text)
  }

  /** The state a stored message of ours shows before the partner reads it. */
  const unreadMark = (c) => (c.status === 'away' ? 'sent' : 'delivered')

  client.on('status', ({ state: s }) => (state.connection = s))
  client.on('account', (a) => (state.me = a))
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
      if (!live.has(c.sessionId)) end(c, 'This chat ended while you were away.')
    }
    for (const s of sessions) {
      addChat({ ...s, commonInterests: kept[s.sessionId] || [] }, { announceIt: false })
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
      state: own ? unreadMark(c) : null,
    })
    if (!added || own) return
    c.partnerTyping = false
    if (state.activeId !== c.sessionId || !state.focused) {
      c.unread++
      o.onPartnerMessage?.(c)
    }
  })
  client.on('viewed', ({ sessionId, msgId }) => {
    const c = chat(sessionId)
    if (!c) return
    for (const it of c.items) if (it.own && it.msgId !== null && it.msgId <= msgId) it.state = 'seen'
  })
  client.on('resumed', ({ sessionId, complete }) => {
    const c = chat(sessionId)
    if (c && !complete) {
      c.items.unshift({ key: ++itemKey, kind: 'system', text: 'Earlier messages are no longer kept.' })
    }
  })
  client.on('signal', (s) => {
    const c = chat(s.sessionId)
    switch (s.signalType) {
      case 'PartnerAway':
        if (c && c.status === 'live') {
          c.status = 'away'
          c.partnerTyping = false
          system(c, `${name(c)}'s connection dropped, waiting…`)
          announce(`${name(c)}'s connection dropped.`)
        }
        break
      case 'PartnerBack':
        if (c && c.status === 'away') {
          c.status = 'live'
          for (const it of c.items) if (it.own && it.state === 'sent') it.state = 'delivered'
          system(c, `${name(c)} is back.`)
          announce(`${name(c)} is back.`)
        }
        break
      case 'PartnerExit':
        if (c) end(c, `${name(c)} ${exitWords[s.data.reason] || 'left the chat'}.`)
        break
      case 'Typing':
        if (c && c.status !== 'ended') c.partnerTyping = !!s.data.typing
        break
      case 'Notice':
        toast(String(s.data.text || ''), s.data.level === 'warning' || s.data.level === 'error' ? 'error' : 'info')
        announce(String(s.data.text || ''))
        break
    }
  })
  client.on('problem', (p) => {
    // An unknown account after a reload and a refused nickname are answered where they are asked.
    if ((p.cmd === 'RECONNECT' && p.code === Code.NoDataFound) || (p.cmd === 'CRT_ACCOUNT' && p.code === Code.ParamErr)) return
    const text = describeProblem(p)
    if (text) toast(text)
  })
  client.on('ended', ({ reason, data }) => {
    state.searching = null
    for (const t of typers.values()) t.stop(false)
    const texts = {
      [EndReason.Replaced]: 'Duet was opened with your chats in another tab or window, so this one stopped.',
      [EndReason.Expired]: 'You were away too long, so your chats have ended. You can start again.',
      [EndReason.Kicked]: banText(data?.reason, data?.until),
      [EndReason.Banned]: banText(data?.reason, data?.until),
    }
    if (reason === EndReason.Kicked || reason === EndReason.Banned) {
      for (const c of state.chats) end(c, texts[reason])
    }
    if (reason === EndReason.Expired) {
      state.me = null
      state.chats.splice(0)
      state.activeId = null
      remember()
    }
    state.ended = { reason, text: texts[reason] }
    announce(texts[reason])
  })

  function showError(err) {
    // Refusals with a code have been shown from the problem event.
    if (!(err instanceof ProtocolError)) toast('You are offline. Duet is trying to reconnect…')
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
      state.ended = null
      state.interests = interests
      if (!state.me) {
        try {
          await client.createAccount(nickName)
        } catch (err) {
          // A ban ends the client as it connects: the banner says so, not a connection problem.
          if (state.ended) return
          if (!(err instanceof ProtocolError)) toast('Could not reach Duet. Check your connection and try again.')
          else if (err.code === Code.ParamErr) toast(`That nickname was not accepted: ${err.message}.`)
          return
        }
      }
      await actions.search(interests)
    },

    /** Queues for a partner; the chat opens from the session event. */
    async search(interests = state.interests) {
      if (state.searching) {
        state.activeId = 'search'
        return
      }
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
        toast(`A message can be at most ${limits.content} characters.`)
        return false
      }
      typers.get(c.sessionId)?.stop(false)
      const { requestId, stored } = client.send(c.sessionId, text)
      const item = { key: ++itemKey, kind: 'message', msgId: null, requestId, own: true, content: text, sentAt: now(), state: 'sending' }
      c.items.push(item)
      stored.then(
        (msgId) => {
          const i = c.items.findIndex((it) => it.requestId === requestId)
          if (i < 0) return
          const [pending] = c.items.splice(i, 1)
          // RESUME may have brought the stored copy first; it stands for this one then.
          insertMessage(c, { ...pending, msgId, requestId: null, state: unreadMark(c) })
        },
        () => {
          const it = c.items.find((it) => it.requestId === requestId)
          if (it) it.state = 'failed'
        },
      )
      return true
    },

    /** The user has seen the partner's messages up to msgId in a focused tab. */
    seen(c, msgId) {
      c.unread = 0
      if (msgId <= c.viewedThrough || c.status === 'ended') return
      c.viewedThrough = msgId
      client.viewed(c.sessionId, msgId).catch(() => {}) // refusals are shown from the problem event
    },

    /** The Leave button and Esc: "Leave", then "Really?", then the chat ends. */
    async stepLeave(c) {
      if (c.status === 'ended') return actions.newChat(c)
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
      end(c, 'You left the chat.')
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

    /** Reports the partner; the chat ends. Returns whether the report was filed. */
    async report(c, category, note) {
      try {
        await client.report(c.sessionId, category, note.trim())
      } catch (err) {
        showError(err)
        return false
      }
      end(c, 'Thank you. Your report was sent and the chat has ended.')
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

    dismissToast,
  }

  return { state, ...actions }
}

/** The chat as a text file, made in the browser. */
export function chatTranscript(c, me) {
  const lines = [`Duet chat with ${c.partnerName || 'a stranger'}`, '']
  if (c.commonInterests.length) lines.splice(1, 0, `Shared interests: ${c.commonInterests.join(', ')}`)
  for (const it of c.items) {
    if (it.kind === 'system') {
      lines.push(`* ${it.text}`)
      continue
    }
    const when = new Date(it.sentAt).toLocaleString()
    const who = it.own ? me?.nickName || 'You' : c.partnerName
    lines.push(`[${when}] ${who}: ${it.content}`)
  }
  return lines.join('\n') + '\n'
}
