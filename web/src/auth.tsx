// The signed-in user (GET /v1/me), sign in and sign out.
import { useQuery, useQueryClient } from '@tanstack/react-query'
import { api, readCookie, unwrap } from './api/client'
import { ApiError } from './api/problem'
import type { components } from './api/schema.gen'

export type User = components['schemas']['UserView']

export const roleHome: Record<string, string> = {
  miner: '/miner',
  buyer: '/buyer',
  auditor: '/auditor',
  registry: '/registry',
  oracle: '/oracle',
}

/** useMe is the signed-in user, or null when nobody is signed in. */
export function useMe() {
  return useQuery({
    queryKey: ['me'],
    queryFn: async (): Promise<User | null> => {
      try {
        const me = await unwrap(api.GET('/me'))
        return me as unknown as User
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) return null
        throw e
      }
    },
    staleTime: 60_000,
    retry: false,
  })
}

export async function signIn(login: string, password: string): Promise<User> {
  const s = await unwrap(api.POST('/auth/login', { body: { login, password, session: 'cookie' } }))
  return s.user
}

export function useSignOut() {
  const qc = useQueryClient()
  return async () => {
    await fetch('/v1/auth/logout', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': readCookie('gm_csrf') ?? '' },
    }).catch(() => undefined)
    qc.clear()
    qc.setQueryData(['me'], null)
  }
}
