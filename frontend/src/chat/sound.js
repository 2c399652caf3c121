// A short two-note chime for a message that arrives unseen; made with Web Audio, so the page
// ships no sound file. Off unless the visitor turns it on.
let audio = null

export function chime() {
  const Ctx = globalThis.AudioContext || globalThis.webkitAudioContext
  if (!Ctx) return
  audio ||= new Ctx()
  const t = audio.currentTime
  for (const [i, freq] of [660, 880].entries()) {
    const osc = audio.createOscillator()
    const gain = audio.createGain()
    osc.frequency.value = freq
    gain.gain.setValueAtTime(0.0001, t + i * 0.12)
    gain.gain.exponentialRampToValueAtTime(0.15, t + i * 0.12 + 0.02)
    gain.gain.exponentialRampToValueAtTime(0.0001, t + i * 0.12 + 0.25)
    osc.connect(gain).connect(audio.destination)
    osc.start(t + i * 0.12)
    osc.stop(t + i * 0.12 + 0.3)
  }
}
