// @vitest-environment node
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import WebSocket from 'ws'
import { Code, Dialect, DuetClient, EndReason, ProtocolError } from '../../src/protocol/client.js'
import { scriptedServer } from './server.js'
import { memoryStorage } from './storage.js'

const ANN = 1111
const BOB = 1212
const SESSION = 10000
const TOKEN = 'q3J-token'

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

function until(check, what) {
  return expect.poll(check, { timeout: 2000, message: what }).toBeTruthy()
}

/** Creates Ann's account on a new connection and matches her with Bob at once. */
async function annInChat() {
  const created = client.createAccount('Ann')
  const conn = await server.connection()
  expect(await conn.next()).toEqual({ cmd: 'CRT_ACCOUNT', nickName: 'Ann' })
  conn.send({ cmd: 'CRT_ACCOUNT', code: 0, nickName: 'Ann', accountId: ANN, token: TOKEN })
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
    expect(JSON.parse(storage.getItem('duet.account'))).toEqual({ accountId: ANN, token: TOKEN, nickName: 'Ann' })
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
