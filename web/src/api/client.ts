// The typed client of the gateway (generated from docs/openapi.json), with
// the web session's rules: cookies, the CSRF double submit on unsafe
// requests, an Idempotency-Key on every write, and one refresh when a call
// answers 401.
import createClient from 'openapi-fetch'
import type { paths } from './schema.gen'
import { ApiError, type Problem } from './problem'

export const BASE = '/v1'

export function readCookie(name: string): string | undefined {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k === name) return decodeURIComponent(v.join('='))
  }
  return undefined
}

const unsafe = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** newKey is a random Idempotency-Key (works outside secure contexts too). */
export function newKey(): string {
  const b = new Uint8Array(16)
  crypto.getRandomValues(b)
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
}

let onSessionLost: () => void = () => {}
/** setSessionLost is called when a refresh fails: the app shows sign-in. */
export function setSessionLost(f: () => void) {
  onSessionLost = f
}

let refreshing: Promise<boolean> | null = null
/** refresh trades the refresh cookie for new ones, once for all concurrent callers. */
export function refresh(): Promise<boolean> {
  refreshing ??= fetch(`${BASE}/auth/refresh`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'X-CSRF-Token': readCookie('gm_csrf') ?? '' },
  })
    .then((r) => r.ok)
    .catch(() => false)
    .finally(() => {
      refreshing = null
    })
  return refreshing
}

function prepare(req: Request): Request {
  if (unsafe.has(req.method)) {
    const csrf = readCookie('gm_csrf')
    if (csrf) req.headers.set('X-CSRF-Token', csrf)
    if (!req.headers.has('Idempotency-Key') && !new URL(req.url).pathname.startsWith(`${BASE}/auth/`)) {
      req.headers.set('Idempotency-Key', newKey())
    }
  }
  return req
}

/** sessionFetch is fetch with the session's rules (above). */
export async function sessionFetch(input: Request): Promise<Response> {
  const req = prepare(input)
  const retry = req.clone()
  const res = await fetch(req)
  const path = new URL(req.url).pathname
  if (res.status !== 401 || path.startsWith(`${BASE}/auth/`) || path.startsWith(`${BASE}/public/`)) return res
  if (!(await refresh())) {
    onSessionLost()
    return res
  }
  const csrf = readCookie('gm_csrf')
  if (csrf && unsafe.has(retry.method)) retry.headers.set('X-CSRF-Token', csrf)
  return fetch(retry)
}

export const api = createClient<paths>({
  baseUrl: BASE,
  credentials: 'same-origin',
  fetch: sessionFetch,
})

interface Answer<T> {
  data?: T
  error?: unknown
  response: Response
}

/** unwrap returns a call's data or throws an ApiError with the gateway's problem. */
export async function unwrap<T>(call: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await call
  if (response.ok) return data as T
  const p: Problem = typeof error === 'object' && error !== null ? (error as Problem) : { detail: typeof error === 'string' ? error : '' }
  throw new ApiError(response.status, p)
}
