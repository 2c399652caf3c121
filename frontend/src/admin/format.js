// How the admin page writes times, durations and figures.

/** A server time (RFC 3339 or Unix ms) in the operator's locale, to the second. */
export function when(t) {
  return new Date(t).toLocaleString([], { dateStyle: 'short', timeStyle: 'medium' })
}

/** A duration in ms, like "45 s", "3 min 20 s" or "2 h 5 min". */
export function duration(ms) {
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`
  const h = Math.floor(m / 60)
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`
}

/** A time in ms as the figures show it: "120 ms" or "3.4 s". */
export function millis(ms) {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`
}

/** n and the word, in the plural unless n is 1: "1 live session", "3 live sessions". */
export function count(n, word) {
  return `${n} ${n === 1 ? word : `${word}s`}`
}

/** A figure with its thousands grouped and at most two decimals: "100,000", "0.45". */
export function number(n) {
  return n.toLocaleString('en', { maximumFractionDigits: 2 })
}
