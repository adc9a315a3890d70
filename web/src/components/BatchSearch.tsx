import { useState, type ReactNode } from 'react'
import { useQuery } from '@tanstack/react-query'
import { api, unwrap } from '../api/client'
import type { Batch } from '../api/types'
import { live } from '../lib/live'
import { Loading, Section, Status, Table } from './ui'
import { day, quantity } from '../lib/format'

interface F {
  instrument: string
  country: string
  technology: string
  vintage: string
  owner: string
  site_id: string
  status: string
}

/** BatchSearch is the batch search (GET /v1/batches) with a column of actions. */
export function BatchSearch({ action, link }: { action?: (b: Batch) => ReactNode; link: (b: Batch) => ReactNode }) {
  const empty: F = { instrument: '', country: '', technology: '', vintage: '', owner: '', site_id: '', status: '' }
  const [draft, setDraft] = useState<F>(empty)
  const [f, setF] = useState<F>(empty)
  const [err, setErr] = useState('')
  const query: Record<string, string | number> = { limit: 100 }
  for (const [k, v] of Object.entries(f)) if (v) query[k] = k === 'vintage' ? Number(v) : v
  const q = useQuery({ queryKey: ['batches', 'search', query], queryFn: () => unwrap(api.GET('/batches', { params: { query: query as never } })), ...live })
  const input = (k: keyof F, label: string, placeholder = '') => (
    <div className="field">
      <label htmlFor={`b-${k}`}>{label}</label>
      <input id={`b-${k}`} value={draft[k]} placeholder={placeholder} onChange={(e) => setDraft({ ...draft, [k]: e.target.value })} />
    </div>
  )
  return (
    <>
      <Section title="Search">
        <form
          className="inline"
          aria-label="Search batches"
          onSubmit={(e) => {
            e.preventDefault()
            if (draft.vintage && !/^\d{4}$/.test(draft.vintage)) {
              setErr('Vintage is a year, e.g. 2023.')
              return
            }
            setErr('')
            setF(draft)
          }}
        >
          <div className="field">
            <label htmlFor="b-instrument">Instrument</label>
            <select id="b-instrument" value={draft.instrument} onChange={(e) => setDraft({ ...draft, instrument: e.target.value })}>
              <option value="">(any)</option>
              <option value="CO2E">CO2E</option>
              <option value="EAC">EAC</option>
            </select>
          </div>
          {input('country', 'Country', 'ES')}
          {input('technology', 'Technology')}
          {input('vintage', 'Vintage (year)')}
          {input('owner', 'Owner (MSP ID)')}
          {input('site_id', 'Site')}
          <div className="field">
            <label htmlFor="b-status">Status</label>
            <select id="b-status" value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.target.value })}>
              <option value="">(any)</option>
              <option value="active">active</option>
              <option value="withdrawn">withdrawn</option>
            </select>
          </div>
          <button type="submit" className="primary">
            Search
          </button>
          {err ? (
            <p className="problem" role="alert">
              {err}
            </p>
          ) : null}
        </form>
      </Section>
      <Section title="Batches">
        <Loading q={q} empty={(d) => !d.items?.length}>
          {(d) => (
            <Table caption="Batches found" head={['Batch', 'Owner', 'Site', 'Instrument', 'Period', 'Issued', 'Retired', 'Flags', 'Status', ...(action ? ['Action'] : [])]}>
              {d.items!.map((b) => (
                <tr key={b.id}>
                  <td>{link(b)}</td>
                  <td>{b.owner}</td>
                  <td>{b.site_id}</td>
                  <td>{b.instrument}</td>
                  <td>
                    {day(b.period_start)} – {day(b.period_end)}
                  </td>
                  <td>{quantity(b.issued, b.instrument)}</td>
                  <td>{quantity(b.retired, b.instrument)}</td>
                  <td>{b.open_flags ? <span className="badge bad">{b.open_flags} open</span> : '—'}</td>
                  <td>
                    <Status value={b.status} />
                  </td>
                  {action ? <td>{action(b)}</td> : null}
                </tr>
              ))}
            </Table>
          )}
        </Loading>
      </Section>
    </>
  )
}
