import { describe, expect, it } from 'vitest'
import { chunks, runs, shape, spanRange, uncovered, type Hour } from './matching'

const H = 3600_000

function hour(start: string, c: number, s: number, m: number, grid = 'normal'): Hour {
  return { start, consumption_wh: c, supply_wh: s, matched_wh: m, grid_state: grid }
}

describe('hourly matching for the charts', () => {
  it('splits a year into calls of at most 31 days', () => {
    const { from, to } = spanRange('year', '2023-01-01')
    const cs = chunks(from, to)
    expect(cs.length).toBe(12)
    expect(cs[0]).toEqual({ from: '2023-01-01T00:00:00Z', to: '2023-02-01T00:00:00Z' })
    expect(cs[cs.length - 1].to).toBe('2024-01-01T00:00:00Z')
  })
  it('scores 24/7 as matched over consumption, per day and overall, with gaps and surplus runs', () => {
    const { from, to } = spanRange('day', '2023-06-01')
    const s = shape(
      [hour('2023-06-01T10:00:00Z', 1000, 2000, 1000, 'surplus'), hour('2023-06-01T11:00:00Z', 1000, 0, 0, 'surplus'), hour('2023-06-01T12:00:00Z', 2000, 1000, 1000)],
      ['2023-06-01T13:00:00Z'],
      from,
      to,
    )
    expect(s.days).toEqual(['2023-06-01'])
    expect(s.times.length).toBe(24)
    expect(s.score).toBe(2000 / 4000)
    expect(s.dailyScore).toEqual([0.5])
    expect(s.surplus).toEqual([[Date.parse('2023-06-01T10:00:00Z'), Date.parse('2023-06-01T12:00:00Z')]])
    // every hour without data is a gap: 00–10 and 13–24
    expect(s.gaps).toEqual([
      [from.getTime(), Date.parse('2023-06-01T10:00:00Z')],
      [Date.parse('2023-06-01T13:00:00Z'), to.getTime()],
    ])
    expect(s.cells[10]).toEqual([10, 0, 1])
    expect(s.cells[0]).toEqual([0, 0, null])
    expect(s.consumption[13]).toBeNull()
  })
  it('has no score without consumption', () => {
    const { from, to } = spanRange('day', '2023-06-01')
    expect(shape([], [], from, to).score).toBeNull()
  })
  it('groups consecutive hours into runs', () => {
    expect(runs([0, H, 3 * H])).toEqual([
      [0, 2 * H],
      [3 * H, 4 * H],
    ])
  })
  it('finds the hours no batch holds', () => {
    expect(uncovered(0, 10, [[2, 4], [3, 6], [8, 20]])).toEqual([
      [0, 2],
      [6, 8],
    ])
    expect(uncovered(0, 10, [])).toEqual([[0, 10]])
    expect(uncovered(0, 10, [[-5, 15]])).toEqual([])
  })
})
