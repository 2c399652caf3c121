// @vitest-environment node
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import WebSocket from 'ws'
import { Code, Dialect, DuetClient, EndReason, ProtocolError } from '../../src/protocol/client.js'
import { scriptedServer } from './server.js'
import { memoryStorage } from './storage.js'
import { makeChallenge } from './challenge.js'
import { findNumber } from '../../src/protocol/proof.js'

const ANN = 1111
const BOB = 1212
const SESSION = 10000
const TOKEN = 'q3J-token'
const EPOCH = 'epoch-1'

let server, client, storage

function newClient(options = {}) {
  storage = options.storage || memoryStorage()
  client = new DuetClient({
    url: server.url,
    storage,
    WebSocket,
    backoffInitialMs: 10,
    backoffMaxMs: 50,
    random: () => 1,
    receiptMs: 60000, // receipts stay out of the way of tests about other frames
    ...options,
  })
  return client
}

/** Collects the client's events of one type. */
function record(type) {
  const got = []
  client.on(type, (e) => got.push(e))
  return got
}

/** Resolves when the client notices its connection is lost. */
function reconnecting() {
  return new Promise((resolve) => {
    const off = client.on('status', (s) => s.state === 'reconnecting' && (off(), resolve()))
  })
}

function until(check, what) {
  return expect.poll(check, { timeout: 2000, message: what }).toBeTruthy()
}

/** Creates Ann's account on a new connection and matches her with Bob at once. */
async function annInChat() {
  const created = client.createAccount('Ann')
  const conn = await server.connection()
  expect(await conn.next()).toEqual({ cmd: 'CRT_ACCOUNT', nickName: 'Ann' })
  conn.send({ cmd: 'CRT_ACCOUNT', code: 0, nickName: 'Ann', accountId: ANN, token: TOKEN, epoch: EPOCH })
  await created
  const matched = client.match(['music'])
  expect(await conn.next()).toEqual({ cmd: 'MATCH', interests: ['music'] })
  conn.send({ cmd: 'MATCH', code: 0, partnerId: BOB, partnerName: 'Bob', sessionId: SESSION, commonInterests: ['music'] })
  expect(await matched).toMatchObject({ sessionId: SESSION, partnerName: 'Bob' })
  return conn
}

function push(conn, msgId, senderId = BOB) {
  conn.send({ cmd: 'PUSH_DIALOGUE', msgId, senderId, sessionId: SESSION, content: `m${msgId}`, sentAt: 1767225600000 })
}

beforeEach(async () => {
  server = await scriptedServer()
})

afterEach(async () => {
  client?.close()
  await server.close()
})

describe('dialects', () => {
  test('the seed dialect: plain names, PONG for PING', async () => {
    newClient()
    const conn = await annInChat()
    expect(JSON.parse(storage.getItem('duet.account'))).toEqual({ accountId: ANN, token: TOKEN, nickName: 'Ann', epoch: EPOCH })
    conn.send({ cmd: 'PING', accountId: ANN })
    expect(await conn.next()).toEqual({ cmd: 'PONG' })
  })

  test('the _REQ/_RESP dialect: suffixed names both ways', async () => {
    newClient({ dialect: Dialect.ReqResp })
    const messages = record('message')
    const created = client.createAccount('Ann')
    const conn = await server.connection()
    expect(await conn.next()).toEqual({ cmd: 'CRT_ACCOUNT_REQ', nickName: 'Ann' })
    conn.send({ cmd: 'CRT_ACCOUNT_RESP', code: 0, nickName: 'Ann', accountId: ANN, token: TOKEN })
    await created

    const matched = client.match()
    expect(await conn.next()).toEqual({ cmd: 'MATCH_REQ' })
    conn.send({ cmd: 'MATCH_RESP', code: 4, msg: 'waiting for a partner' })
    expect(await matched).toBeNull()

    conn.send({ cmd: 'PING_REQ', accountId: ANN })
    expect(await conn.next()).toEqual({ cmd: 'PING_RESP' })
    conn.send({ cmd: 'PUSH_DIALOGUE_REQ', msgId: 20002, senderId: BOB, sessionId: SESSION, content: 'hi!', sentAt: 1 })
    await until(() => messages.length === 1, 'the pushed message')
    expect(messages[0]).toMatchObject({ msgId: 20002, content: 'hi!' })
  })
})

describe('reconnection', () => {
  test('RECONNECT, then RESUME from the last message shown, the backlog out of order', async () => {
    newClient()
    const messages = record('message')
    let conn = await annInChat()
    push(conn, 20002)
    push(conn, 20004)
    await until(() => messages.length === 2, 'two messages')
    conn.close(1011, 'write failed')

    conn = await server.connection()
    expect(await conn.next()).toEqual({ cmd: 'RECONNECT', accountId: ANN, token: TOKEN })
    conn.send({ cmd: 'RECONNECT', code: 0, sessions: [{ sessionId: SESSION, partnerId: BOB, partnerName: 'Bob', lastMsgId: 20006 }] })
    push(conn, 20006) // from the backlog, before what RESUME brings
    expect(await conn.next()).toEqual({ cmd: 'RESUME', sessionId: SESSION, afterMsgId: 20004 })
    push(conn, 20005)
    push(conn, 20006)
    conn.send({ cmd: 'RESUME', code: 0, sessionId: SESSION, count: 2, complete: true })
    await until(() => messages.some((m) => m.msgId === 20005), 'the message lost with the connection')

    // The next loss resumes after everything now shown, 20006.
    await new Promise((r) => setTimeout(r, 20))
    conn.close(1001, 'server shutting down')
    conn = await server.connection()
    await conn.next()
    conn.send({ cmd: 'RECONNECT', code: 0, sessions: [{ sessionId: SESSION, partnerId: BOB, partnerName: 'Bob', lastMsgId: 20006 }] })
    expect(await conn.next()).toEqual({ cmd: 'RESUME', sessionId: SESSION, afterMsgId: 20006 })
  })

  test('an unacknowledged message is resent with the same requestId', async () => {
    newClient()
    let conn = await annInChat()
    const { requestId, stored } = client.send(SESSION, 'hello')
    expect(await conn.next()).toEqual({ cmd: 'DIALOGUE', requestId, sessionId: SESSION, content: 'hello' })
    conn.close(1011, 'write failed') // the reply never came

    conn = await server.connection()
    await conn.next() // RECONNECT
    conn.send({ cmd: 'RECONNECT', code: 0, sessions: [{ sessionId: SESSION, partnerId: BOB, partnerName: 'Bob', lastMsgId: 20001 }] })
    await conn.next() // RESUME
    conn.send({ cmd: 'RESUME', code: 0, sessionId: SESSION, count: 0, complete: true })
    expect(await conn.next()).toEqual({ cmd: 'DIALOGUE', requestId, sessionId: SESSION, content: 'hello' })
    conn.send({ cmd: 'DIALOGUE', code: 0, requestId, msgId: 20001 })
    expect(await stored).toBe(20001)
  })

  test('a search goes on after a reconnection', async () => {
    newClient()
    const created = client.createAccount('Ann')
    let conn = await server.connection()
    await conn.next()
    conn.send({ cmd: 'CRT_ACCOUNT', code: 0, nickName: 'Ann', accountId: ANN, token: TOKEN })
    await created
    const queued = client.match(['go'])
    await conn.next()
    conn.send({ cmd: 'MATCH', code: 4, msg: 'waiting for a partner' })
    await queued
    conn.close(1001, 'server shutting down')

    conn = await server.connection()
    await conn.next()
    conn.send({ cmd: 'RECONNECT', code: 0, sessions: [] })
    expect(await conn.next()).toEqual({ cmd: 'MATCH', interests: ['go'] })
  })

  test('a silent server is pinged, then given up and reconnected to', async () => {
    newClient({ heartbeatMs: 40, silenceMs: 120 })
    let conn = await annInChat()
    expect(await conn.next()).toEqual({ cmd: 'PING' }) // nothing heard for heartbeatMs
    conn = await server.connection() // nothing heard for silenceMs: a new connection
    expect(await conn.next()).toEqual({ cmd: 'RECONNECT', accountId: ANN, token: TOKEN })
  })

  test('back-off doubles up to its maximum', async () => {
    newClient()
    const statuses = record('status')
    let conn = await annInChat()
    for (let i = 0; i < 4; i++) {
      conn.close(1011)
      conn = await server.connection()
      await conn.next() // RECONNECT, left unanswered: the attempt has not succeeded
    }
    const delays = statuses.filter((s) => s.delayMs !== undefined).map((s) => s.delayMs)
    expect(delays).toEqual([10, 20, 40, 50])
  })

  test('a reload comes back to the stored account', async () => {
    newClient({ storage: memoryStorage({ 'duet.account': JSON.stringify({ accountId: ANN, token: TOKEN, nickName: 'Ann' }) }) })
    const restored = client.restore()
    const conn = await server.connection()
    expect(await conn.next()).toEqual({ cmd: 'RECONNECT', accountId: ANN, token: TOKEN })
    conn.send({ cmd: 'RECONNECT', code: 0, sessions: [{ sessionId: SESSION, partnerId: BOB, partnerName: 'Bob', lastMsgId: 20003 }] })
    expect(await conn.next()).toEqual({ cmd: 'RESUME', sessionId: SESSION, afterMsgId: 0 })
    expect(await restored).toEqual([{ sessionId: SESSION, partnerId: BOB, partnerName: 'Bob', lastMsgId: 20003 }])
  })
})

describe('creating an account', () => {
  test('a refused CRT_ACCOUNT leaves the client offline, not connecting', async () => {
    newClient()
    const statuses = record('status')
    const created = client.createAccount('Ann')
    const conn = await server.connection()
    await conn.next()
    conn.send({ cmd: 'CRT_ACCOUNT', code: 6, msg: 'too many requests; slow down', retryAfterMs: 4000 })
    await expect(created).rejects.toMatchObject({ code: Code.RateLimited })
    expect(statuses.at(-1)).toEqual({ state: 'offline' })
  })
})

describe('proof of work', () => {
  /** The solver of the page, run in the test's thread, that says it is half done first. */
  const solveHere = (challenge, onProgress) => {
    onProgress(0.5)
    return Promise.resolve(findNumber(challenge))
  }
  const refuse = (conn, challenge) => conn.send({ cmd: 'CRT_ACCOUNT', code: 11, msg: 'solve the challenge first', challenge })
  const closed = (conn) => (conn.ws.readyState === conn.ws.CLOSED ? Promise.resolve() : new Promise((resolve) => conn.ws.once('close', resolve)))
  const proofOf = ({ challenge, number }) => {
    const { algorithm, salt, signature } = challenge
    return { algorithm, challenge: challenge.challenge, number, salt, signature }
  }

  test('code 11: the challenge is solved and CRT_ACCOUNT sent again with its proof; a refused proof, again', async () => {
    newClient({ solve: solveHere })
    const proving = record('proving')
    const created = client.createAccount('Ann')
    const conn = await server.connection()
    expect(await conn.next()).toEqual({ cmd: 'CRT_ACCOUNT', nickName: 'Ann' })
    const first = makeChallenge(5000)
    refuse(conn, first.challenge)
    expect(await conn.next()).toEqual({ cmd: 'CRT_ACCOUNT', nickName: 'Ann', proof: proofOf(first) })
    const fresh = makeChallenge(5000) // the first proof came too late, say
    refuse(conn, fresh.challenge)
    expect(await conn.next()).toEqual({ cmd: 'CRT_ACCOUNT', nickName: 'Ann', proof: proofOf(fresh) })
    conn.send({ cmd: 'CRT_ACCOUNT', code: 0, nickName: 'Ann', accountId: ANN, token: TOKEN, epoch: EPOCH })
    expect(await created).toEqual({ accountId: ANN, nickName: 'Ann' })
    expect(proving.map((p) => p.fraction)).toEqual([0, 0.5, 1, 0, 0.5, 1])
    expect(JSON.parse(storage.getItem('duet.account'))).toMatchObject({ accountId: ANN, token: TOKEN })
  })

  test('after three refused proofs in a row, the refusal is the answer', async () => {
    newClient({ solve: solveHere })
    const statuses = record('status')
    const created = client.createAccount('Ann')
    const conn = await server.connection()
    const sent = []
    for (let i = 0; i < 4; i++) {
      sent.push(await conn.next())
      refuse(conn, makeChallenge(1000).challenge)
    }
    await expect(created).rejects.toMatchObject({ code: Code.ChallengeRequired })
    expect(sent.map((f) => !!f.proof)).toEqual([false, true, true, true])
    expect(statuses.at(-1)).toEqual({ state: 'offline' })
    await closed(conn)
  })

  test('a challenge with no answer in range is not answered', async () => {
    newClient({ solve: solveHere })
    const created = client.createAccount('Ann')
    const conn = await server.connection()
    await conn.next()
    refuse(conn, makeChallenge(1000, 1001).challenge)
    await expect(created).rejects.toMatchObject({ code: Code.ChallengeRequired })
  })

  test('cancelAccount stops the solver and the connection', async () => {
    let solving
    const solve = (challenge, onProgress, signal) =>
      new Promise((resolve, reject) => {
        solving = signal
        signal.addEventListener('abort', () => reject(signal.reason))
      })
    newClient({ solve })
    const statuses = record('status')
    const created = client.createAccount('Ann')
    const conn = await server.connection()
    await conn.next()
    refuse(conn, makeChallenge(1000).challenge)
    await until(() => solving, 'the solver at work')
    client.cancelAccount()
    await expect(created).rejects.toMatchObject({ name: 'AbortError' })
    expect(solving.aborted).toBe(true)
    expect(statuses.at(-1)).toEqual({ state: 'offline' })
    await closed(conn)
  })
})

describe('receipts', () => {
  test('a burst of messages is acknowledged once, with the newest of the partner', async () => {
    newClient({ receiptMs: 30 })
    const conn = await annInChat()
    for (const id of [20001, 20002, 20003]) push(conn, id)
    push(conn, 20004, ANN) // our own, from RESUME: not ours to acknowledge
    expect(await conn.next()).toEqual({ cmd: 'DELIVERED_ACK', sessionId: SESSION, msgId: 20003 })
    conn.send({ cmd: 'DELIVERED_ACK', code: 0 })
    push(conn, 20005)
    expect(await conn.next()).toEqual({ cmd: 'DELIVERED_ACK', sessionId: SESSION, msgId: 20005 })
  })

  test('viewing sends one VIEWED_ACK for the newest, which stands for delivery too', async () => {
    newClient({ receiptMs: 30 })
    const conn = await annInChat()
    push(conn, 20001)
    push(conn, 20002)
    client.viewed(SESSION, 20001)
    client.viewed(SESSION, 20002)
    expect(await conn.next()).toEqual({ cmd: 'VIEWED_ACK', sessionId: SESSION, msgId: 20002 })
    client.viewed(SESSION, 20002)
    push(conn, 20003)
    expect(await conn.next(), 'nothing for what was already viewed').toEqual({ cmd: 'DELIVERED_ACK', sessionId: SESSION, msgId: 20003 })
  })

  test('a receipt due while offline goes out after RECONNECT', async () => {
    newClient({ receiptMs: 30 })
    let conn = await annInChat()
    const lost = reconnecting()
    conn.close(1011, 'write failed')
    await lost
    client.viewed(SESSION, 20007)
    conn = await server.connection()
    await conn.next() // RECONNECT
    conn.send({ cmd: 'RECONNECT', code: 0, sessions: [{ sessionId: SESSION, partnerId: BOB, partnerName: 'Bob', lastMsgId: 20007 }] })
    await conn.next() // RESUME
    conn.send({ cmd: 'RESUME', code: 0, sessionId: SESSION, count: 0, complete: true })
    expect(await conn.next()).toEqual({ cmd: 'VIEWED_ACK', sessionId: SESSION, msgId: 20007 })
  })

  test("the partner's receipts and the RECONNECT watermarks reach the page", async () => {
    newClient()
    const delivered = record('delivered')
    const restoredEvents = record('restored')
    let conn = await annInChat()
    conn.send({ cmd: 'PUSH_DELIVERED_ACK', sessionId: SESSION, accountId: BOB, msgId: 20001 })
    await until(() => delivered.length === 1, 'the delivery receipt')
    expect(delivered[0]).toEqual({ sessionId: SESSION, accountId: BOB, msgId: 20001 })
    conn.close(1011)
    conn = await server.connection()
    await conn.next()
    const session = { sessionId: SESSION, partnerId: BOB, partnerName: 'Bob', lastMsgId: 20003, deliveredMsgId: 20003, viewedMsgId: 20002 }
    conn.send({ cmd: 'RECONNECT', code: 0, sessions: [session], epoch: EPOCH })
    await until(() => restoredEvents.length === 1, 'the restored sessions')
    expect(restoredEvents[0].sessions).toEqual([session])
  })
})

describe('stopping for good', () => {
  test('RECONNECT answered 4 forgets the account', async () => {
    newClient({ storage: memoryStorage({ 'duet.account': JSON.stringify({ accountId: ANN, token: TOKEN, nickName: 'Ann' }) }) })
    const ended = record('ended')
    const restored = client.restore()
    const conn = await server.connection()
    await conn.next()
    conn.send({ cmd: 'RECONNECT', code: 4, msg: 'unknown account or wrong token' })
    expect(await restored).toBeNull()
    expect(ended).toEqual([{ reason: EndReason.Expired, data: undefined }])
    expect(client.credentials).toBeNull()
  })

  test('RECONNECT answered 4 with a new epoch says the service restarted, and fails what was unsent', async () => {
    newClient()
    const ended = record('ended')
    let conn = await annInChat()
    const lost = reconnecting()
    conn.close(1001, 'server shutting down')
    await lost
    const { stored } = client.send(SESSION, 'typed while the server was down')
    // Expected from the start: the message fails while the test still waits for the end.
    const fails = expect(stored).rejects.toBeInstanceOf(Error)
    conn = await server.connection()
    expect(await conn.next()).toEqual({ cmd: 'RECONNECT', accountId: ANN, token: TOKEN })
    conn.send({ cmd: 'RECONNECT', code: 4, msg: 'unknown account or wrong token', epoch: 'epoch-2' })
    await until(() => ended.length === 1, 'the end')
    expect(ended[0].reason).toBe(EndReason.Restarted)
    await fails
  })

  test('RECONNECT answered 4 with the same epoch: away too long', async () => {
    newClient()
    const ended = record('ended')
    let conn = await annInChat()
    conn.close(1011)
    conn = await server.connection()
    await conn.next()
    conn.send({ cmd: 'RECONNECT', code: 4, msg: 'unknown account or wrong token', epoch: EPOCH })
    await until(() => ended.length === 1, 'the end')
    expect(ended[0].reason).toBe(EndReason.Expired)
  })

  test('a message typed while the server was down is sent after RECONNECT', async () => {
    newClient()
    let conn = await annInChat()
    const lost = reconnecting()
    conn.close(1001, 'server shutting down')
    await lost
    const { requestId, stored } = client.send(SESSION, 'typed while the server was down')
    conn = await server.connection()
    await conn.next()
    conn.send({ cmd: 'RECONNECT', code: 0, sessions: [{ sessionId: SESSION, partnerId: BOB, partnerName: 'Bob', lastMsgId: 0 }], epoch: EPOCH })
    await conn.next() // RESUME
    conn.send({ cmd: 'RESUME', code: 0, sessionId: SESSION, count: 0, complete: true })
    expect(await conn.next()).toEqual({ cmd: 'DIALOGUE', requestId, sessionId: SESSION, content: 'typed while the server was down' })
    conn.send({ cmd: 'DIALOGUE', code: 0, requestId, msgId: 20001 })
    expect(await stored).toBe(20001)
  })

  for (const [name, end, want] of [
    ['close 4000', (conn) => conn.close(4000, 'logged in elsewhere'), EndReason.Replaced],
    ['LoggedInElsewhere', (conn) => conn.send({ cmd: 'PUSH_SIGNAL', signalType: 'LoggedInElsewhere', senderId: 0, sessionId: 0, receiverId: ANN, data: {} }), EndReason.Replaced],
    ['Kicked', (conn) => conn.send({ cmd: 'PUSH_SIGNAL', signalType: 'Kicked', senderId: 0, sessionId: 0, receiverId: ANN, data: { reason: 'spam', until: 1767225600000 } }), EndReason.Kicked],
    ['presence timeout', (conn) => conn.close(1000, 'presence timeout'), EndReason.Expired],
  ]) {
    test(`${name}: no automatic reconnection`, async () => {
      newClient()
      const ended = record('ended')
      const conn = await annInChat()
      end(conn)
      await until(() => ended.length === 1, 'the end')
      expect(ended[0].reason).toBe(want)
      await new Promise((r) => setTimeout(r, 100)) // several back-off periods
      expect(server.pendingConnections()).toBe(0)
    })
  }
})

describe('replies', () => {
  test('a non-zero code rejects the request and is reported as a problem', async () => {
    newClient()
    const problems = record('problem')
    const conn = await annInChat()
    const left = client.leave(SESSION)
    await conn.next()
    conn.send({ cmd: 'LEAVE', code: 8, msg: 'the session has ended' })
    await expect(left).rejects.toMatchObject({ name: 'ProtocolError', code: Code.SessionEnded })
    expect(problems).toEqual([{ cmd: 'LEAVE', code: 8, msg: 'the session has ended' }])
  })

  test('a rate-limited message is sent again after retryAfterMs, once stored', async () => {
    newClient()
    const conn = await annInChat()
    const { requestId, stored } = client.send(SESSION, 'fast')
    await conn.next()
    conn.send({ cmd: 'DIALOGUE', code: 6, requestId, msg: 'slow down', retryAfterMs: 30 })
    expect(await conn.next()).toEqual({ cmd: 'DIALOGUE', requestId, sessionId: SESSION, content: 'fast' })
    conn.send({ cmd: 'DIALOGUE', code: 0, requestId, msgId: 20009 })
    expect(await stored).toBe(20009)
  })

  test('a refused message rejects', async () => {
    newClient()
    const conn = await annInChat()
    const { requestId, stored } = client.send(SESSION, 'late')
    await conn.next()
    conn.send({ cmd: 'DIALOGUE', code: 8, requestId, msg: 'the session has ended' })
    await expect(stored).rejects.toBeInstanceOf(ProtocolError)
  })
})
