// The hourly matching of a site (GET /v1/sites/{id}/matching) shaped for
// the charts: hour × day cells, series with gaps, surplus hours and the
// 24/7 score (the share of consumption matched hour by hour).

export interface Hour {
  start: string
  consumption_wh: number
  supply_wh: number
  matched_wh: number
  grid_state: string
}

export type Span = 'day' | 'month' | 'year'

const HOUR = 3600_000
const DAY = 24 * HOUR
/** The gateway answers at most 31 days per call. */
export const MAX_CALL_DAYS = 31

/** spanRange is [from, to) of the span starting at the UTC day `start` (YYYY-MM-DD). */
export function spanRange(span: Span, start: string): { from: Date; to: Date } {
  const from = new Date(`${start}T00:00:00Z`)
  const to = new Date(from)
  if (span === 'day') to.setUTCDate(to.getUTCDate() + 1)
  else if (span === 'month') to.setUTCMonth(to.getUTCMonth() + 1)
  else to.setUTCFullYear(to.getUTCFullYear() + 1)
  return { from, to }
}

/** chunks splits [from, to) into calls of at most MAX_CALL_DAYS days. */
export function chunks(from: Date, to: Date): { from: string; to: string }[] {
  const out: { from: string; to: string }[] = []
  for (let t = from.getTime(); t < to.getTime(); t += MAX_CALL_DAYS * DAY) {
    const end = Math.min(t + MAX_CALL_DAYS * DAY, to.getTime())
    out.push({ from: iso(t), to: iso(end) })
  }
  return out
}

function iso(t: number): string {
  return new Date(t).toISOString().replace('.000Z', 'Z')
}

export interface Shaped {
  days: string[] // YYYY-MM-DD, in order
  cells: [number, number, number | null][] // [hour 0–23, day index, matched share 0–1 or null for no consumption]
  times: number[] // every hour of the range, epoch ms
  consumption: (number | null)[] // Wh per hour; null where the hour is a gap
  supply: (number | null)[]
  matched: (number | null)[]
  gaps: [number, number][] // runs of gap hours [start, end) epoch ms
  surplus: [number, number][] // runs of grid-surplus hours [start, end)
  score: number | null // Σ matched / Σ consumption
  dailyScore: (number | null)[] // per day
  totals: { consumption: number; supply: number; matched: number }
}

/** shape arranges the hours (and gap hours) of [from, to) for the charts. */
export function shape(hours: Hour[], gapHours: string[], from: Date, to: Date): Shaped {
  const byTime = new Map<number, Hour>()
  for (const h of hours) byTime.set(Date.parse(h.start), h)
  const gapSet = new Set(gapHours.map((g) => Date.parse(g)))
  const days: string[] = []
  const cells: Shaped['cells'] = []
  const times: number[] = []
  const consumption: (number | null)[] = []
  const supply: (number | null)[] = []
  const matched: (number | null)[] = []
  const gapTimes: number[] = []
  const surplusTimes: number[] = []
  const dayC: number[] = []
  const dayM: number[] = []
  let tc = 0
  let ts = 0
  let tm = 0
  for (let t = from.getTime(); t < to.getTime(); t += HOUR) {
    const d = new Date(t)
    const dayIdx = Math.floor((t - from.getTime()) / DAY)
    if (days.length <= dayIdx) {
      days.push(d.toISOString().slice(0, 10))
      dayC.push(0)
      dayM.push(0)
    }
    times.push(t)
    const h = gapSet.has(t) ? undefined : byTime.get(t)
    if (!h) {
      consumption.push(null)
      supply.push(null)
      matched.push(null)
      cells.push([d.getUTCHours(), dayIdx, null])
      gapTimes.push(t)
      continue
    }
    consumption.push(h.consumption_wh)
    supply.push(h.supply_wh)
    matched.push(h.matched_wh)
    tc += h.consumption_wh
    ts += h.supply_wh
    tm += h.matched_wh
    dayC[dayIdx] += h.consumption_wh
    dayM[dayIdx] += h.matched_wh
    cells.push([d.getUTCHours(), dayIdx, h.consumption_wh > 0 ? h.matched_wh / h.consumption_wh : null])
    if (h.grid_state === 'surplus') surplusTimes.push(t)
  }
  return {
    days,
    cells,
    times,
    consumption,
    supply,
    matched,
    gaps: runs(gapTimes),
    surplus: runs(surplusTimes),
    score: tc > 0 ? tm / tc : null,
    dailyScore: dayC.map((c, i) => (c > 0 ? dayM[i] / c : null)),
    totals: { consumption: tc, supply: ts, matched: tm },
  }
}

/** runs groups sorted hour starts into [start, end) runs of consecutive hours. */
export function runs(times: number[]): [number, number][] {
  const out: [number, number][] = []
  for (const t of times) {
    const last = out[out.length - 1]
    if (last && last[1] === t) last[1] = t + HOUR
    else out.push([t, t + HOUR])
  }
  return out
}

/**
 * uncovered is what of [from, to) no interval of `covered` holds, as
 * intervals in order. The hours a batch already holds come from its
 * attestation; the gateway's matching answers only the others.
 */
export function uncovered(from: number, to: number, covered: [number, number][]): [number, number][] {
  const cs = covered
    .map(([a, b]) => [Math.max(a, from), Math.min(b, to)] as [number, number])
    .filter(([a, b]) => a < b)
    .sort((x, y) => x[0] - y[0])
  const out: [number, number][] = []
  let t = from
  for (const [a, b] of cs) {
    if (a > t) out.push([t, a])
    t = Math.max(t, b)
  }
  if (t < to) out.push([t, to])
  return out
}
