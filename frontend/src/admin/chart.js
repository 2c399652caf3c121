// The shapes of the overview's small charts: one figure over the last hour, a point a minute,
// as SVG path data. A minute that no node recorded leaves a gap in the line.

const MINUTE_MS = 60_000

/**
 * @param {{at: string, value: number}[]} points the recorded minutes, oldest first
 * @param {object} o
 * @param {string} o.from the first minute of the hour shown (RFC 3339)
 * @param {number} o.minutes how many minutes the chart spans (60)
 * @param {number} o.width
 * @param {number} o.height
 * @returns {{line: string, area: string, top: number, last: number|null, peak: number}}
 *   line and area are path data; top is the value at the chart's top edge; last the newest
 *   minute's value (null when the newest minute was not recorded); peak the largest value.
 */
export function chartShape(points, { from, minutes, width, height }) {
  const start = Date.parse(from)
  const slots = new Array(minutes).fill(null)
  for (const p of points) {
    const i = Math.round((Date.parse(p.at) - start) / MINUTE_MS)
    if (i >= 0 && i < minutes) slots[i] = p.value
  }
  const values = slots.filter((v) => v !== null)
  const peak = values.length ? Math.max(...values) : 0
  const top = niceCeiling(peak)
  const x = (i) => round((i / (minutes - 1)) * width)
  const y = (v) => round(height - (v / top) * height)

  const runs = [] // consecutive recorded minutes: [first index, values]
  slots.forEach((v, i) => {
    if (v === null) return
    const run = runs.at(-1)
    if (run && run[0] + run[1].length === i) run[1].push(v)
    else runs.push([i, [v]])
  })
  const line = []
  const area = []
  for (const [first, vs] of runs) {
    // A lone minute is drawn as a short dash, so that it shows.
    const xs = vs.length > 1 ? vs.map((_, k) => x(first + k)) : [x(first) - 1, x(first) + 1]
    const ys = vs.length > 1 ? vs.map(y) : [y(vs[0]), y(vs[0])]
    line.push(xs.map((px, k) => `${k ? 'L' : 'M'}${px} ${ys[k]}`).join(' '))
    area.push(`M${xs[0]} ${height} ` + xs.map((px, k) => `L${px} ${ys[k]}`).join(' ') + ` L${xs.at(-1)} ${height} Z`)
  }
  return { line: line.join(' '), area: area.join(' '), top, last: slots.at(-1), peak }
}

/** The smallest of 1, 2, 5, 10, 20, 50… at or above v (and at least 1): a round top for the axis. */
export function niceCeiling(v) {
  if (v <= 1) return 1
  const magnitude = 10 ** Math.floor(Math.log10(v))
  for (const step of [1, 2, 5, 10]) {
    if (step * magnitude >= v) return step * magnitude
  }
  return 10 * magnitude
}

function round(n) {
  return Math.round(n * 10) / 10
}
