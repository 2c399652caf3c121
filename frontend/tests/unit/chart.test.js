import { expect, test } from 'vitest'
import { chartShape, niceCeiling } from '../../src/admin/chart.js'

const from = '2026-12-05T11:00:00Z'
const at = (minute) => new Date(Date.parse(from) + minute * 60_000).toISOString()
const size = { from, minutes: 60, width: 590, height: 100 }

test('a point a minute, a gap where a minute is missing, a round top', () => {
  const s = chartShape(
    [
      { at: at(0), value: 2 },
      { at: at(1), value: 4 },
      { at: at(3), value: 7 },
      { at: at(4), value: 0 },
    ],
    size,
  )
  expect(s.top).toBe(10)
  expect(s.peak).toBe(7)
  expect(s.last).toBe(null) // minute 59 was not recorded
  expect(s.line).toBe('M0 80 L10 60 M30 30 L40 100')
  expect(s.area.match(/Z/g).length).toBe(2)
})

test('a lone minute shows as a short dash, and the newest is the last value', () => {
  const s = chartShape([{ at: at(59), value: 3 }], size)
  expect(s.line).toBe('M589 40 L591 40') // 3 of a top of 5
  expect(s.last).toBe(3)
})

test('minutes outside the hour are left out; nothing recorded draws nothing', () => {
  expect(chartShape([{ at: at(-1), value: 9 }, { at: at(60), value: 9 }], size)).toMatchObject({ line: '', area: '', peak: 0, top: 1 })
})

test('niceCeiling', () => {
  expect([0, 1, 2, 3, 7, 10, 11, 99, 101, 4500].map(niceCeiling)).toEqual([1, 1, 2, 5, 10, 10, 20, 100, 200, 5000])
})
