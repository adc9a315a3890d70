// The public verification queries, shared by the pages and main.tsx, which
// starts the one a /verify/… URL needs before React first renders.
import { api, unwrap } from '../../api/client'

export const retirementQuery = (id: string) => ({
  queryKey: ['public', 'retirement', id],
  queryFn: () => unwrap(api.GET('/public/retirements/{id}', { params: { path: { id } } })),
  retry: false,
})

export const batchQuery = (id: string) => ({
  queryKey: ['public', 'batch', id],
  queryFn: () => unwrap(api.GET('/public/batches/{id}', { params: { path: { id } } })),
  retry: false,
})

export const listingQuery = (id: string) => ({
  queryKey: ['public', 'listing', id],
  queryFn: () => unwrap(api.GET('/public/listings/{id}', { params: { path: { id } } })),
  retry: false,
})

/** publicQueryFor is the query a /verify/… path shows, if it is one. */
export function publicQueryFor(path: string) {
  const m = /^\/verify\/(retirements|batches|listings)\/([^/]+)$/.exec(path)
  if (!m) return undefined
  const id = decodeURIComponent(m[2])
  return m[1] === 'retirements' ? retirementQuery(id) : m[1] === 'batches' ? batchQuery(id) : listingQuery(id)
}
