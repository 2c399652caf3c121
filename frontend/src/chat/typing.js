// When to send TYPING: true when the user starts and again every refreshMs while they go on
// (the server forgets a typing:true after its typing_timeout, 6 s by default), false after
// idleMs without a key or when the box is emptied. A sent message or a left chat clears the
// state without a frame: the server clears it itself then. This stays well under the
// server's 2 TYPING frames per second.

export const typingDefaults = Object.freeze({ refreshMs: 3000, idleMs: 5000 })

export class TypingNotifier {
  /**
   * @param {(typing: boolean) => void} send
   * @param {object} [o] refreshMs, idleMs, and the clock (now, setTimeout, clearTimeout) for tests
   */
  constructor(send, o = {}) {
    this.send = send
    this.refreshMs = o.refreshMs ?? typingDefaults.refreshMs
    this.idleMs = o.idleMs ?? typingDefaults.idleMs
    this.now = o.now || (() => Date.now())
    this.typing = false
    this.lastTrueAt = 0
    this.idleTimer = null
  }

  /** The text in the box changed. */
  input(text) {
    if (!text.trim()) return this.stop(true)
    if (!this.typing || this.now() - this.lastTrueAt >= this.refreshMs) {
      this.send(true)
      this.typing = true
      this.lastTrueAt = this.now()
    }
    clearTimeout(this.idleTimer)
    this.idleTimer = setTimeout(() => this.stop(true), this.idleMs)
  }

  /** Stops typing; tell says whether the server needs a typing:false to know. */
  stop(tell) {
    clearTimeout(this.idleTimer)
    if (this.typing && tell) this.send(false)
    this.typing = false
  }
}
