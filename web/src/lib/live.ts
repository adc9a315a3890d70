// Live updates. Signed in, the app follows the gateway's event stream
// (GET /v1/events, Server-Sent Events): each ledger event refetches the
// queries on screen, and lists poll once a minute as a safety net. While
// the stream is down (or on a gateway without one) lists poll every 5 s.
import { useEffect, useState } from 'react'
import { useQueryClient } from '@tanstack/react-query'
import { operations } from '../api/rules.gen'
import { refresh } from '../api/client'

export const hasEventStream = operations.includes('GET /events')

let streamUp = false

/** LIVE_MS is how often a live list is fetched again while the stream is down. */
export const LIVE_MS = 5_000

// Background tabs poll too (browsers slow their timers down by themselves):
// a reservation shows on a seller's open tab without a reload.
export const live = { refetchInterval: () => (streamUp ? 60_000 : LIVE_MS), refetchIntervalInBackground: true } as const

/** has reports whether the gateway offers an operation ("GET /public/retirements/{id}/statement.pdf"). */
export function has(op: string): boolean {
  return operations.includes(op)
}

/**
 * useEventStream follows GET /v1/events while mounted and reports whether
 * it is connected. A stream refused (an access cookie that expired) is
 * opened again after a refresh; any other loss, after a pause.
 */
export function useEventStream(): boolean {
  const qc = useQueryClient()
  const [up, setUp] = useState(false)
  useEffect(() => {
    if (!hasEventStream || typeof EventSource === 'undefined') return
    let es: EventSource | undefined
    let timer: ReturnType<typeof setTimeout> | undefined
    let pending: ReturnType<typeof setTimeout> | undefined
    let stopped = false
    const mark = (v: boolean) => {
      streamUp = v
      setUp(v)
    }
    const changed = () => {
      // Events come in bursts (one per object a transaction changed).
      clearTimeout(pending)
      pending = setTimeout(() => void qc.invalidateQueries({ predicate: (q) => q.queryKey[0] !== 'me' && q.queryKey[0] !== 'attestation' }), 200)
    }
    const open = () => {
      if (stopped) return
      es = new EventSource('/v1/events')
      es.onopen = () => {
        mark(true)
        changed() // whatever happened while it was down
      }
      es.addEventListener('ledger', changed)
      es.onmessage = changed
      es.onerror = async () => {
        if (es?.readyState !== EventSource.CLOSED) {
          mark(false) // reconnecting by itself
          return
        }
        mark(false)
        es = undefined
        await refresh()
        timer = setTimeout(open, 3_000)
      }
    }
    open()
    return () => {
      stopped = true
      clearTimeout(timer)
      clearTimeout(pending)
      es?.close()
      streamUp = false
    }
  }, [qc])
  return up
}
