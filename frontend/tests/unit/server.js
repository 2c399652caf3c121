// A WebSocket server that a test scripts frame by frame, to put the protocol client through
// what the real server does (docs/protocol.md) at exactly the moments that matter.
import { once } from 'node:events'
import { WebSocketServer } from 'ws'

export async function scriptedServer() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(wss, 'listening')
  const waiting = []
  const arrived = []
  wss.on('connection', (ws) => {
    const conn = new Connection(ws)
    const w = waiting.shift()
    if (w) w(conn)
    else arrived.push(conn)
  })
  return {
    url: `ws://127.0.0.1:${wss.address().port}`,
    /** The next connection the client opens. */
    connection: () => (arrived.length ? Promise.resolve(arrived.shift()) : new Promise((r) => waiting.push(r))),
    /** How many connections are open or waiting to be taken. */
    pendingConnections: () => arrived.length,
    close: () =>
      new Promise((done) => {
        for (const ws of wss.clients) ws.terminate()
        wss.close(done)
      }),
  }
}

class Connection {
  constructor(ws) {
    this.ws = ws
    this.frames = []
    this.waiters = []
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString())
      const w = this.waiters.shift()
      if (w) w(frame)
      else this.frames.push(frame)
    })
  }

  /** The next frame the client sends. */
  next() {
    return this.frames.length ? Promise.resolve(this.frames.shift()) : new Promise((r) => this.waiters.push(r))
  }

  send(frame) {
    this.ws.send(JSON.stringify(frame))
  }

  close(code, reason) {
    this.ws.close(code, reason)
  }
}
