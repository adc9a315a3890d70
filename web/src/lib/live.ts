// Live updates. The gateway's event stream is not in the API yet: until it
// is (operations lists "GET /events"), pages poll with TanStack Query's
// refetchInterval. When it lands, an EventSource invalidates the queries an
// event touches and the interval below grows to a safety net.
import { operations } from '../api/rules.gen'

export const hasEventStream = operations.includes('GET /events')

/** LIVE_MS is how often a live list is fetched again while the page is visible. */
export const LIVE_MS = hasEventStream ? 60_000 : 5_000

// Background tabs poll too (browsers slow their timers down by themselves):
// a reservation shows on a seller's open tab without a reload.
export const live = { refetchInterval: LIVE_MS, refetchIntervalInBackground: true } as const

/** has reports whether the gateway offers an operation ("GET /retirements/{id}/pdf"). */
export function has(op: string): boolean {
  return operations.includes(op)
}
