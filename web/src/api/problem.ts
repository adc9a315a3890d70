// RFC 9457 problems from the gateway, turned into words a person reads
// next to the field or action that caused them.

export interface ProblemDetail {
  location?: string
  message?: string
  value?: unknown
}

export interface Problem {
  type?: string
  title?: string
  status?: number
  detail?: string
  code?: string
  request_id?: string
  errors?: ProblemDetail[] | null
}

const plain: Record<string, string> = {
  invalid: 'Please check what you entered.',
  unauthenticated: 'Your session has ended: please sign in again.',
  forbidden: 'You are not allowed to do this.',
  not_found: 'It was not found.',
  conflict: 'This cannot be done right now.',
  unavailable: 'The service is busy or unavailable: try again in a moment.',
  internal: 'Something went wrong on our side.',
}

/** ApiError is a failed call: its HTTP status and the gateway's problem. */
export class ApiError extends Error {
  readonly status: number
  readonly problem: Problem
  constructor(status: number, problem: Problem) {
    super(summary(status, problem))
    this.name = 'ApiError'
    this.status = status
    this.problem = problem
  }

  /** Field errors by form field path ("site_id", "fleet.hashrate_ths", "parts[0].quantity"). */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const e of this.problem.errors ?? []) {
      const f = fieldOf(e.location)
      if (f && !out[f]) out[f] = sentence(e.message ?? 'is not valid')
    }
    return out
  }
}

/** codeOf maps a status to the gateway's error code when a body has none. */
export function codeOf(status: number, p: Problem): string {
  if (p.code) return p.code
  if (status === 401) return 'unauthenticated'
  if (status === 403) return 'forbidden'
  if (status === 404) return 'not_found'
  if (status === 409) return 'conflict'
  if (status === 429 || status === 503) return 'unavailable'
  if (status >= 500) return 'internal'
  return 'invalid'
}

/** summary is the sentence shown for a problem: what kind of failure, then the gateway's detail. */
export function summary(status: number, p: Problem): string {
  const code = codeOf(status, p)
  const lead = plain[code] ?? plain.internal
  const detail = code === 'internal' ? '' : (p.detail ?? '').trim()
  let s = detail && !sameWords(lead, detail) ? `${lead} ${sentence(detail)}` : lead
  if (code === 'internal' && p.request_id) s += ` (request ${p.request_id})`
  return s
}

/** fieldOf turns a problem location ("body.fleet.hashrate_ths") into a form field path. */
export function fieldOf(location?: string): string {
  if (!location) return ''
  return location.replace(/^(body|query|path|header)\.?/, '')
}

function sentence(s: string): string {
  const t = s.trim()
  if (!t) return t
  const first = t[0].toUpperCase() + t.slice(1)
  return /[.!?]$/.test(first) ? first : first + '.'
}

function sameWords(a: string, b: string): boolean {
  return a.toLowerCase().replace(/[^a-z]/g, '') === b.toLowerCase().replace(/[^a-z]/g, '')
}

/** messageOf is the words for any error a call may throw. */
export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.message
  if (err instanceof TypeError) return 'The registry cannot be reached: check your connection and try again.'
  if (err instanceof Error) return err.message
  return String(err)
}
