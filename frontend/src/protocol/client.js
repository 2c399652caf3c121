// The Duet protocol client (docs/protocol.md): one WebSocket, its dialect, heartbeats,
// reconnection with back-off, RECONNECT and RESUME, and safe DIALOGUE retries. It knows nothing
// of the page: views listen to its events and call its methods.

/** Reply codes, as named in docs/protocol.md. */
export const Code = Object.freeze({
  OK: 0,
  ParamErr: 1,
  InternalErr: 2,
  UnknownErr: 3,
  NoDataFound: 4,
  Unauthorized: 5,
  RateLimited: 6,
  Banned: 7,
  SessionEnded: 8,
  LimitReached: 9,
  Unavailable: 10,
  ChallengeRequired: 11,
})

/** The two naming schemes the server speaks; see "Dialects". */
export const Dialect = Object.freeze({ Seed: 'seed', ReqResp: 'reqresp' })

/** Why the client stopped for good and will not reconnect by itself. */
export const EndReason = Object.freeze({
  Replaced: 'replaced', // another connection RECONNECTed to the account (close 4000)
  Expired: 'expired', // the account lapsed or is unknown: start again with CRT_ACCOUNT
  Restarted: 'restarted', // the service lost its state (a new epoch): start again with CRT_ACCOUNT
  Kicked: 'kicked', // an operator removed or banned the account
  Banned: 'banned', // a reply said code 7
})

/** A reply with a non-zero code. */
export class ProtocolError extends Error {
  constructor(cmd, reply) {
    super(reply.msg || `${cmd} failed with code ${reply.code}`)
    this.name = 'ProtocolError'
    this.cmd = cmd
    this.code = reply.code
    this.reply = reply
  }
}

/** The request could not be sent because the connection is down. */
export class OfflineError extends Error {
  constructor() {
    super('not connected')
    this.name = 'OfflineError'
  }
}

const CREDENTIALS_KEY = 'duet.account'
const CLOSE_REPLACED = 4000
const CLOSE_CLIENT_SILENCE = 4001 // ours: the server has been silent too long
const PROOFS_REFUSED_MAX = 3 // refused proofs of work in a row before account creation gives up

/** Options and their defaults; every timing can be set by the caller. */
export const defaults = Object.freeze({
  dialect: Dialect.Seed,
  backoffInitialMs: 500, // first reconnection delay, doubled each attempt
  backoffMaxMs: 30000,
  heartbeatMs: 10000, // send our own PING when nothing has arrived for this long
  silenceMs: 25000, // give the connection up when nothing has arrived for this long
  retryMs: 1000, // wait before resending a DIALOGUE that got code 2
  receiptMs: 300, // receipts (DELIVERED_ACK, VIEWED_ACK) of a session go out at most this often
})

/**
 * A client of one account. Events (subscribe with on(type, fn)):
 *  - status {state: 'connecting'|'online'|'reconnecting'|'offline', attempt?, delayMs?}
 *  - account {accountId, nickName}
 *  - session {sessionId, partnerId, partnerName, commonInterests}: a new chat, from MATCH's
 *    reply or a NewSession signal
 *  - restored {sessions}: RECONNECT worked; sessions is its list, each with the partner's
 *    deliveredMsgId and viewedMsgId watermarks (RESUMEs follow)
 *  - message {sessionId, msgId, senderId, content, sentAt}
 *  - delivered {sessionId, accountId, msgId}: the partner's client holds the session up to msgId
 *  - viewed {sessionId, accountId, msgId}: the partner has seen the session up to msgId
 *  - signal {signalType, sessionId, senderId, data}
 *  - resumed {sessionId, count, complete}
 *  - proving {fraction}: account creation is solving the server's proof-of-work challenge,
 *    this share of it tried so far (from 0)
 *  - problem {cmd, code, msg, retryAfterMs?, until?, reason?}: every non-zero reply
 *  - ended {reason, data?}: the client will not reconnect by itself
 */
export class DuetClient {
  /**
   * @param {object} o
   * @param {string} o.url WebSocket address, e.g. ws://host/ws
   * @param {Storage} o.storage where the account's id and token live (sessionStorage)
   * @param {typeof WebSocket} [o.WebSocket]
   * @param {(challenge: object, onProgress: (fraction: number) => void, signal: AbortSignal) => Promise<number|null>} [o.solve]
   *   solves a proof-of-work challenge; by default in a Web Worker
   */
  constructor(o) {
    this.options = { ...defaults, ...o }
    this.url = o.url
    this.storage = o.storage
    this.WebSocketImpl = o.WebSocket || globalThis.WebSocket
    this.random = o.random || Math.random
    this.solve = o.solve || solveInWorker
    this.creating = null // the AbortController of the account creation under way
    this.listeners = new Map()
    this.socket = null
    this.ready = false // the socket is open and bound to the account (or about to be)
    this.stopped = false
    this.attempt = 0
    this.reconnectTimer = null
    this.heartbeatTimer = null
    this.lastReceived = 0
    this.pending = new Map() // base cmd → FIFO of {resolve, reject}
    this.outbox = new Map() // requestId → {sessionId, content, resolve, reject}
    this.watermarks = new Map() // sessionId → highest msgId delivered in order
    this.resyncing = new Map() // sessionId → highest msgId seen while waiting for RESUME's reply
    this.resyncingAll = false // between RECONNECT and its reply: every session is resyncing
    this.waitingFor = null // interests of the MATCH we are queued with, or null
    this.receipts = new Map() // sessionId → {delivered, viewed, sentDelivered, sentViewed}: our receipts
    this.receiptTimer = null
    this.account = null
  }

  /** Subscribes fn to events of type; returns the unsubscribe function. */
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set())
    this.listeners.get(type).add(fn)
    return () => this.listeners.get(type).delete(fn)
  }

  emit(type, detail) {
    for (const fn of this.listeners.get(type) || []) fn(detail)
  }

  /** The stored account, if this tab had one. */
  get credentials() {
    const raw = this.storage.getItem(CREDENTIALS_KEY)
    if (!raw) return null
    try {
      const c = JSON.parse(raw)
      return Number.isSafeInteger(c.accountId) && typeof c.token === 'string' ? c : null
    } catch {
      return null
    }
  }

  /**
   * Creates an account on a fresh connection, solving the proof-of-work challenge when the
   * server sets one. Resolves with {accountId, nickName}; rejects with a ProtocolError when
   * refused, and with an AbortError after cancelAccount.
   */
  async createAccount(nickName) {
    this.stopped = false
    await this.open()
    const creating = new AbortController()
    this.creating = creating
    let reply
    try {
      reply = await this.requestAccount(nickName, creating.signal)
    } catch (err) {
      // Refused (a nickname, a rate limit) or cancelled: no account, so no connection worth keeping.
      if (!this.stopped) {
        this.closeSocket()
        this.emit('status', { state: 'offline' })
      }
      throw err
    } finally {
      if (this.creating === creating) this.creating = null
    }
    this.storage.setItem(
      CREDENTIALS_KEY,
      JSON.stringify({ accountId: reply.accountId, token: reply.token, nickName: reply.nickName, epoch: reply.epoch ?? null }),
    )
    this.bind({ accountId: reply.accountId, nickName: reply.nickName })
    return this.account
  }

  /** Gives up the account creation under way, its proof of work included. */
  cancelAccount() {
    this.creating?.abort()
  }

  /**
   * CRT_ACCOUNT, again with a proof of work after each code 11: the first asks for one, a
   * later one refuses the proof sent (expired, used, wrong) and brings a fresh challenge.
   * After PROOFS_REFUSED_MAX refused proofs in a row the last refusal is the answer.
   */
  async requestAccount(nickName, signal) {
    let proof = null
    let refused = 0
    for (;;) {
      try {
        const reply = await this.request('CRT_ACCOUNT', proof ? { nickName, proof } : { nickName })
        signal.throwIfAborted()
        return reply
      } catch (err) {
        signal.throwIfAborted()
        const challenge = err instanceof ProtocolError && err.code === Code.ChallengeRequired && err.reply.challenge
        if (proof) refused++
        if (!challenge || refused === PROOFS_REFUSED_MAX) throw err
        proof = await this.prove(challenge, signal)
        if (!proof) throw err
      }
    }
  }

  /** The proof for an ALTCHA challenge, or null when it has no solution. */
  async prove(challenge, signal) {
    this.emit('proving', { fraction: 0 })
    const number = await this.solve(challenge, (fraction) => this.emit('proving', { fraction }), signal)
    signal.throwIfAborted()
    if (number === null) return null
    this.emit('proving', { fraction: 1 })
    const { algorithm, salt, signature } = challenge
    return { algorithm, challenge: challenge.challenge, number, salt, signature }
  }

  /**
   * Comes back to the stored account, for example after a page reload. Resolves with the
   * RECONNECT reply's sessions, or null when there is no account to come back to.
   */
  restore() {
    if (!this.credentials) return Promise.resolve(null)
    this.stopped = false
    const outcome = new Promise((resolve) => {
      const offs = [
        this.on('restored', ({ sessions }) => done(sessions)),
        this.on('ended', () => done(null)),
      ]
      function done(v) {
        offs.forEach((off) => off())
        resolve(v)
      }
    })
    this.comeBack()
    return outcome
  }

  /** Opens a socket and RECONNECTs; a failure schedules the next attempt. */
  async comeBack() {
    try {
      await this.open()
      await this.reattach()
    } catch (err) {
      // A lost socket has scheduled the next attempt already; anything else (code 2) retries.
      if (!(err instanceof OfflineError) && !this.stopped) {
        this.closeSocket()
        this.scheduleReconnect()
      }
    }
  }

  /** Sends RECONNECT on the open socket, then RESUME for each session; see "Writing a client". */
  async reattach() {
    const { accountId, token, nickName, epoch } = this.credentials
    // The backlog may come right behind the reply, ahead of any code of ours: hold the
    // watermarks from now on, until each session's RESUME answers.
    this.resyncingAll = true
    let reply
    try {
      reply = await this.request('RECONNECT', { accountId, token })
    } catch (err) {
      if (err instanceof ProtocolError && err.code === Code.NoDataFound) {
        // A new epoch means the service lost every account, not that this one lapsed.
        const restarted = epoch && err.reply.epoch && err.reply.epoch !== epoch
        this.end(restarted ? EndReason.Restarted : EndReason.Expired)
        return null
      }
      throw err
    }
    if (reply.epoch && reply.epoch !== epoch) this.storage.setItem(CREDENTIALS_KEY, JSON.stringify({ ...this.credentials, epoch: reply.epoch }))
    this.bind({ accountId, nickName })
    const live = new Set(reply.sessions.map((s) => s.sessionId))
    for (const id of this.watermarks.keys()) if (!live.has(id)) this.watermarks.delete(id)
    for (const id of this.receipts.keys()) if (!live.has(id)) this.receipts.delete(id)
    for (const [requestId, m] of this.outbox) {
      if (!live.has(m.sessionId)) {
        this.outbox.delete(requestId)
        m.reject(new ProtocolError('DIALOGUE', { code: Code.SessionEnded, msg: 'the session has ended' }))
      }
    }
    for (const s of reply.sessions) if (!this.resyncing.has(s.sessionId)) this.resyncing.set(s.sessionId, 0)
    for (const id of this.resyncing.keys()) if (!live.has(id)) this.resyncing.delete(id)
    this.resyncingAll = false
    this.emit('restored', { sessions: reply.sessions })
    await Promise.all(
      reply.sessions.map((s) =>
        this.request('RESUME', { sessionId: s.sessionId, afterMsgId: this.watermarks.get(s.sessionId) || 0 }).catch(
          () => this.resyncing.delete(s.sessionId), // shown as a problem; the session goes on
        ),
      ),
    )
    for (const [requestId, m] of this.outbox) this.sendDialogue(requestId, m)
    this.sendReceipts()
    if (this.waitingFor) this.match(this.waitingFor).catch(() => {})
    return reply.sessions
  }

  bind(account) {
    this.account = account
    this.attempt = 0
    this.emit('account', account)
    this.emit('status', { state: 'online' })
  }

  /** Opens a new socket; resolves once it is open. */
  open() {
    this.closeSocket()
    this.emit('status', { state: this.attempt ? 'reconnecting' : 'connecting', attempt: this.attempt })
    return new Promise((resolve, reject) => {
      const ws = new this.WebSocketImpl(this.url)
      this.socket = ws
      let opened = false
      ws.onopen = () => {
        opened = true
        this.ready = true
        this.lastReceived = Date.now()
        this.startHeartbeat()
        resolve()
      }
      ws.onmessage = (ev) => {
        if (this.socket === ws) this.receive(ev.data)
      }
      ws.onclose = (ev) => {
        if (this.socket !== ws) return // a socket we have replaced: its close means nothing
        this.lost(ev.code, ev.reason)
        if (!opened) reject(new OfflineError())
      }
    })
  }

  closeSocket() {
    const ws = this.socket
    this.detach()
    if (ws && ws.readyState <= 1) ws.close(1000)
  }

  /** Forgets the socket, failing the requests that waited on it; the outbox stays. */
  detach() {
    this.socket = null
    this.ready = false
    clearInterval(this.heartbeatTimer)
    for (const queue of this.pending.values()) for (const p of queue) p.reject(new OfflineError())
    this.pending.clear()
    this.resyncing.clear()
    this.resyncingAll = false
  }

  /** The socket closed: decide whether to come back. */
  lost(code, reason) {
    this.detach()
    if (this.stopped) return
    if (code === CLOSE_REPLACED) return this.end(EndReason.Replaced)
    if (code === 1000 && reason === 'presence timeout') return this.end(EndReason.Expired)
    if (!this.credentials) {
      this.emit('status', { state: 'offline' })
      return
    }
    this.scheduleReconnect()
  }

  /** Exponential back-off with full jitter over the upper half: 0.5 s, 1 s, 2 s … 30 s. */
  scheduleReconnect() {
    const ceiling = Math.min(this.options.backoffMaxMs, this.options.backoffInitialMs * 2 ** this.attempt)
    const delayMs = Math.round(ceiling / 2 + (this.random() * ceiling) / 2)
    this.attempt++
    this.emit('status', { state: 'reconnecting', attempt: this.attempt, delayMs })
    clearTimeout(this.reconnectTimer)
    this.reconnectTimer = setTimeout(() => this.comeBack(), delayMs)
  }

  /** Stops for good: no more reconnecting. */
  end(reason, data) {
    this.stopped = true
    clearTimeout(this.reconnectTimer)
    if (reason === EndReason.Expired || reason === EndReason.Restarted) {
      // The account and its sessions are gone: nothing of theirs is to be resumed or resent.
      this.storage.removeItem(CREDENTIALS_KEY)
      this.account = null
      this.waitingFor = null
      this.watermarks.clear()
      this.receipts.clear()
      for (const m of this.outbox.values()) m.reject(new OfflineError())
      this.outbox.clear()
    }
    this.closeSocket()
    this.emit('status', { state: 'offline' })
    this.emit('ended', { reason, data })
  }

  /** Closes the connection and stops reconnecting; the account lapses unless RECONNECTed. */
  close() {
    this.stopped = true
    this.creating?.abort()
    clearTimeout(this.reconnectTimer)
    this.closeSocket()
  }

  startHeartbeat() {
    clearInterval(this.heartbeatTimer)
    const { heartbeatMs, silenceMs } = this.options
    this.heartbeatTimer = setInterval(
      () => {
        const quiet = Date.now() - this.lastReceived
        if (quiet >= silenceMs) this.socket?.close(CLOSE_CLIENT_SILENCE, 'server silent')
        else if (quiet >= heartbeatMs) this.write(this.name('PING'))
      },
      Math.min(heartbeatMs, silenceMs) / 2,
    )
  }

  /** The command's name in this connection's dialect. */
  name(cmd) {
    if (this.options.dialect !== Dialect.ReqResp) return cmd
    return cmd === 'PONG' ? 'PING_RESP' : `${cmd}_REQ`
  }

  write(cmd, fields = {}) {
    if (!this.ready) return false
    this.socket.send(JSON.stringify({ cmd, ...fields }))
    return true
  }

  /** Sends a request and resolves with its reply; a non-zero code rejects with ProtocolError. */
  request(cmd, fields = {}) {
    return new Promise((resolve, reject) => {
      if (!this.write(this.name(cmd), fields)) return reject(new OfflineError())
      if (!this.pending.has(cmd)) this.pending.set(cmd, [])
      this.pending.get(cmd).push({ resolve, reject })
    })
  }

  receive(data) {
    this.lastReceived = Date.now()
    let frame
    try {
      frame = JSON.parse(data)
    } catch {
      return
    }
    if (typeof frame?.cmd !== 'string') return
    const cmd = frame.cmd
    if (cmd === 'PING' || cmd === 'PING_REQ') {
      this.write(this.name('PONG'))
      return
    }
    if (cmd === 'PONG' || cmd === 'PING_RESP') return
    const base = cmd.replace(/_(REQ|RESP)$/, '')
    if (frame.code === undefined) return this.push(base, frame)
    this.reply(base, frame)
  }

  reply(cmd, frame) {
    if (frame.code !== Code.OK && !(cmd === 'MATCH' && frame.code === Code.NoDataFound)) {
      this.emit('problem', { cmd, ...frame })
      if (frame.code === Code.Banned) {
        this.end(EndReason.Banned, { until: frame.until, reason: frame.reason })
      }
    }
    if (cmd === 'DIALOGUE') return this.dialogueReply(frame)
    if (cmd === 'RESUME' && frame.code === Code.OK) {
      const seen = this.resyncing.get(frame.sessionId) || 0
      if (seen > (this.watermarks.get(frame.sessionId) || 0)) this.watermarks.set(frame.sessionId, seen)
      this.resyncing.delete(frame.sessionId)
      this.emit('resumed', { sessionId: frame.sessionId, count: frame.count, complete: frame.complete })
    }
    const waiter = this.pending.get(cmd)?.shift()
    if (!waiter) return // a failed TYPING, or an answer to a request given up on
    if (frame.code === Code.OK || (cmd === 'MATCH' && frame.code === Code.NoDataFound)) waiter.resolve(frame)
    else waiter.reject(new ProtocolError(cmd, frame))
  }

  push(cmd, frame) {
    switch (cmd) {
      case 'PUSH_DIALOGUE':
        return this.received(frame)
      case 'PUSH_DELIVERED_ACK':
        return this.emit('delivered', { sessionId: frame.sessionId, accountId: frame.accountId, msgId: frame.msgId })
      case 'PUSH_VIEWED_ACK':
        return this.emit('viewed', { sessionId: frame.sessionId, accountId: frame.accountId, msgId: frame.msgId })
      case 'PUSH_SIGNAL':
        return this.signal(frame)
    }
  }

  /**
   * A message reached us. The watermark RESUME starts from follows pushes only: they arrive in
   * msgId order, while our own DIALOGUE's reply may overtake a partner's message stored just
   * before it. Between RECONNECT and RESUME's reply the backlog comes out of order, so the
   * watermark waits for that reply. A partner's message is acknowledged with DELIVERED_ACK.
   */
  received(m) {
    if (this.resyncingAll || this.resyncing.has(m.sessionId)) {
      this.resyncing.set(m.sessionId, Math.max(this.resyncing.get(m.sessionId) || 0, m.msgId))
    } else if (m.msgId > (this.watermarks.get(m.sessionId) || 0)) {
      this.watermarks.set(m.sessionId, m.msgId)
    }
    if (m.senderId !== this.account?.accountId) this.receipt(m.sessionId, 'delivered', m.msgId)
    this.emit('message', {
      sessionId: m.sessionId,
      msgId: m.msgId,
      senderId: m.senderId,
      content: m.content,
      sentAt: m.sentAt,
    })
  }

  signal(frame) {
    const s = { signalType: frame.signalType, sessionId: frame.sessionId, senderId: frame.senderId, data: frame.data || {} }
    switch (s.signalType) {
      case 'NewSession':
        this.waitingFor = null
        this.emit('session', {
          sessionId: s.sessionId,
          partnerId: s.data.accountId,
          partnerName: s.data.nickName,
          commonInterests: s.data.commonInterests || [],
        })
        break
      case 'PartnerExit':
        this.watermarks.delete(s.sessionId)
        this.receipts.delete(s.sessionId)
        break
      case 'LoggedInElsewhere':
        this.emit('signal', s)
        return this.end(EndReason.Replaced)
      case 'Kicked':
        this.emit('signal', s)
        return this.end(EndReason.Kicked, s.data)
    }
    this.emit('signal', s)
  }

  /**
   * Asks for a partner. Resolves with the new session ({sessionId, partnerId, partnerName,
   * commonInterests}) when one was found at once, or null when queued (a NewSession signal
   * follows).
   */
  async match(interests = []) {
    const reply = await this.request('MATCH', interests.length ? { interests } : {})
    if (reply.code === Code.NoDataFound) {
      this.waitingFor = interests
      return null
    }
    this.waitingFor = null
    const session = {
      sessionId: reply.sessionId,
      partnerId: reply.partnerId,
      partnerName: reply.partnerName,
      commonInterests: reply.commonInterests || [],
    }
    this.emit('session', session)
    return session
  }

  async cancelMatch() {
    this.waitingFor = null
    try {
      await this.request('CANCEL_MATCH')
    } catch (err) {
      // Not queued (any more) is what was asked for.
      if (!(err instanceof ProtocolError && err.code === Code.NoDataFound)) throw err
    }
  }

  /**
   * Sends a message. Returns its requestId at once and a promise of its msgId. The message is
   * resent with the same requestId after code 2, code 6 or a lost connection, so it is stored
   * once; other codes reject.
   */
  send(sessionId, content) {
    const requestId = newRequestId()
    const stored = new Promise((resolve, reject) => {
      const m = { sessionId, content, resolve, reject }
      this.outbox.set(requestId, m)
      if (!this.resyncing.size && !this.resyncingAll) this.sendDialogue(requestId, m)
    })
    return { requestId, stored }
  }

  sendDialogue(requestId, m) {
    this.write(this.name('DIALOGUE'), { requestId, sessionId: m.sessionId, content: m.content })
  }

  dialogueReply(frame) {
    const m = this.outbox.get(frame.requestId)
    if (!m) return
    if (frame.code === Code.OK) {
      this.outbox.delete(frame.requestId)
      return m.resolve(frame.msgId)
    }
    if (frame.code === Code.InternalErr || frame.code === Code.RateLimited) {
      const wait = frame.code === Code.RateLimited ? frame.retryAfterMs : this.options.retryMs
      setTimeout(() => this.outbox.has(frame.requestId) && this.sendDialogue(frame.requestId, m), wait)
      return
    }
    this.outbox.delete(frame.requestId)
    m.reject(new ProtocolError('DIALOGUE', frame))
  }

  /** Tells the partner, soon and batched with other receipts, that we have seen the session up to msgId. */
  viewed(sessionId, msgId) {
    this.receipt(sessionId, 'viewed', msgId)
  }

  /**
   * Notes a receipt (kind 'delivered' or 'viewed') up to msgId. Receipts go out together at
   * most every receiptMs, each session's newest only: a burst of fifty messages costs one
   * DELIVERED_ACK, not fifty. One not sent while offline goes out after the RECONNECT.
   */
  receipt(sessionId, kind, msgId) {
    const r = this.receipts.get(sessionId) || { delivered: 0, viewed: 0, sentDelivered: 0, sentViewed: 0 }
    r[kind] = Math.max(r[kind], msgId)
    this.receipts.set(sessionId, r)
    this.receiptTimer ??= setTimeout(() => {
      this.receiptTimer = null
      this.sendReceipts()
    }, this.options.receiptMs)
  }

  sendReceipts() {
    if (!this.ready || !this.account) return
    for (const [sessionId, r] of this.receipts) {
      // Viewing implies delivery: the server moves both watermarks on a VIEWED_ACK.
      if (r.viewed > r.sentViewed) {
        r.sentViewed = r.viewed
        r.sentDelivered = Math.max(r.sentDelivered, r.viewed)
        this.request('VIEWED_ACK', { sessionId, msgId: r.viewed }).catch(() => {})
      }
      if (r.delivered > r.sentDelivered) {
        r.sentDelivered = r.delivered
        this.request('DELIVERED_ACK', { sessionId, msgId: r.delivered }).catch(() => {})
      }
    }
  }

  /** Starts or stops the typing signal; the server answers only failures. */
  typing(sessionId, typing) {
    this.write(this.name('TYPING'), { sessionId, typing })
  }

  leave(sessionId) {
    this.watermarks.delete(sessionId)
    this.receipts.delete(sessionId)
    return this.request('LEAVE', { sessionId })
  }

  report(sessionId, category, note) {
    return this.request('REPORT', note ? { sessionId, category, note } : { sessionId, category })
  }
}

/** A fresh requestId: 22 URL-safe characters from 128 random bits (crypto.randomUUID needs https). */
function newRequestId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/**
 * Solves a proof-of-work challenge in a Web Worker (proof.worker.js), so that the page stays
 * responsive. Resolves with the number, or null when none fits; the signal terminates the worker.
 */
function solveInWorker(challenge, onProgress, signal) {
  return new Promise((resolve, reject) => {
    signal.throwIfAborted()
    const worker = new Worker(new URL('./proof.worker.js', import.meta.url), { type: 'module' })
    const finish = (settle, value) => {
      signal.removeEventListener('abort', cancel)
      worker.terminate()
      settle(value)
    }
    const cancel = () => finish(reject, signal.reason)
    signal.addEventListener('abort', cancel)
    worker.onmessage = ({ data }) => ('fraction' in data ? onProgress(data.fraction) : finish(resolve, data.number))
    worker.onerror = (ev) => {
      ev.preventDefault()
      finish(reject, new Error(`the proof-of-work worker failed: ${ev.message ?? 'it did not start'}`))
    }
    worker.postMessage(challenge)
  })
}
