import { useEffect, type ReactNode } from 'react'
import type { UseQueryResult } from '@tanstack/react-query'
import { messageOf } from '../api/problem'

/** Page sets the document title and the page's one h1. */
export function Page({ title, children, lead }: { title: string; lead?: ReactNode; children: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · Greenmint`
  }, [title])
  return (
    <>
      <h1>{title}</h1>
      {lead ? <p className="lead">{lead}</p> : null}
      {children}
    </>
  )
}

const statusClass: Record<string, string> = {
  approved: 'ok',
  active: 'ok',
  open: 'info',
  sold: 'ok',
  retired: 'ok',
  pending: 'warn',
  reserved: 'warn',
  suspended: 'bad',
  withdrawn: 'bad',
  cancelled: 'muted',
  revoked: 'bad',
  upheld: 'bad',
  dismissed: 'ok',
  accepted: 'ok',
  rejected: 'bad',
}

export function Status({ value }: { value?: string }) {
  if (!value) return <span>—</span>
  return <span className={`badge ${statusClass[value] ?? 'muted'}`}>{value}</span>
}

export function Check({ ok, label }: { ok: boolean | undefined; label: string }) {
  return (
    <li className={ok ? 'check ok' : 'check bad'}>
      <span aria-hidden="true">{ok ? '✓' : '✗'}</span> {label}: <strong>{ok ? 'holds' : 'fails'}</strong>
    </li>
  )
}

/** Loading shows a query's state: loading, its problem in words, or the children. */
export function Loading<T>({ q, children, empty }: { q: UseQueryResult<T>; children: (data: T) => ReactNode; empty?: (data: T) => boolean }) {
  if (q.isPending) return <p role="status" className="muted-text">Loading…</p>
  if (q.isError)
    return (
      <p className="problem" role="alert">
        {messageOf(q.error)}
      </p>
    )
  if (empty && empty(q.data)) return <p className="muted-text">Nothing here yet.</p>
  return <>{children(q.data)}</>
}

/** Table is a scrollable, focusable, captioned table (usable at phone width). */
export function Table({ caption, head, children }: { caption: string; head: ReactNode[]; children: ReactNode }) {
  return (
    <div className="table-wrap" role="region" aria-label={caption} tabIndex={0}>
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            {head.map((h, i) => (
              <th scope="col" key={i}>
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  )
}

export function Section({ title, children, id }: { title: string; children: ReactNode; id?: string }) {
  return (
    <section aria-labelledby={id ?? slug(title)} className="card">
      <h2 id={id ?? slug(title)}>{title}</h2>
      {children}
    </section>
  )
}

export function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-')
}

/** Coming marks a place where a feature of the next API release slots in. */
export function Coming({ children }: { children: ReactNode }) {
  return <p className="coming">{children}</p>
}
