import { useMemo, useState } from 'react'
import { Link, useParams } from 'react-router'
import { useQueries, useQuery } from '@tanstack/react-query'
import { api, unwrap } from '../../api/client'
import { messageOf } from '../../api/problem'
import { chunks, shape, spanRange, uncovered, type Hour, type Span } from '../../lib/matching'
import { energy, num, percent, quantity, day as dayOf } from '../../lib/format'
import { live } from '../../lib/live'
import { Heatmap, Series } from '../../components/charts'
import { Loading, Page, Section, Status, Table } from '../../components/ui'

function monthStart(s?: string): string {
  const d = s ? new Date(s) : new Date()
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-01`
}

export default function SiteDetail() {
  const { id = '' } = useParams()
  const site = useQuery({ queryKey: ['site', id], queryFn: () => unwrap(api.GET('/sites/{id}', { params: { path: { id } } })), ...live })
  const meters = useQuery({ queryKey: ['meters', id], queryFn: () => unwrap(api.GET('/meters', { params: { query: { site_id: id, limit: 100 } } })), ...live })
  const batches = useQuery({ queryKey: ['batches', 'site', id], queryFn: () => unwrap(api.GET('/batches', { params: { query: { site_id: id, limit: 100 } } })), ...live })
  const newest = batches.data?.items?.reduce<string | undefined>((m, b) => (!m || b.period_start > m ? b.period_start : m), undefined)
  const [span, setSpan] = useState<Span>('month')
  const [start, setStart] = useState<string>('')
  const from = start || (span === 'day' ? (newest ?? new Date().toISOString()).slice(0, 10) : monthStart(newest))
  const range = useMemo(() => spanRange(span, span === 'year' ? `${from.slice(0, 4)}-01-01` : from), [span, from])
  // Hours a batch holds: from its attestation (immutable). The others: the
  // gateway's matching of the oracle's readings, at most 31 days a call.
  const overlapping = useMemo(
    () =>
      (batches.data?.items ?? []).filter(
        (b) => b.status !== 'withdrawn' && Date.parse(b.period_start) < range.to.getTime() && Date.parse(b.period_end) > range.from.getTime(),
      ),
    [batches.data, range],
  )
  const calls = useMemo(() => {
    if (!batches.data) return []
    const open = uncovered(
      range.from.getTime(),
      range.to.getTime(),
      overlapping.map((b) => [Date.parse(b.period_start), Date.parse(b.period_end)] as [number, number]),
    )
    return open.flatMap(([a, b]) => chunks(new Date(a), new Date(b)))
  }, [batches.data, overlapping, range])
  const attested = useQueries({
    queries: overlapping.map((b) => ({
      queryKey: ['attestation', b.attestation_id],
      queryFn: () => unwrap(api.GET('/attestations/{id}', { params: { path: { id: b.attestation_id } } })),
      staleTime: Infinity,
    })),
  })
  const matched = useQueries({
    queries: calls.map((c) => ({
      queryKey: ['matching', id, c.from, c.to],
      queryFn: () => unwrap(api.GET('/sites/{id}/matching', { params: { path: { id }, query: { from: c.from, to: c.to } } })),
      staleTime: 30_000,
    })),
  })
  const results = [...attested, ...matched]
  const pending = batches.isPending || results.some((r) => r.isPending)
  const failed = results.find((r) => r.isError)
  const shaped = useMemo(() => {
    if (pending) return undefined
    const hours: Hour[] = []
    const gaps: string[] = []
    for (const r of attested) {
      const a = r.data?.attestation.attestation
      if (!a) continue
      hours.push(...((a.hours ?? []) as Hour[]))
      gaps.push(...(a.gaps ?? []))
    }
    for (const r of matched) {
      if (!r.data) continue
      hours.push(...((r.data.hours ?? []) as Hour[]))
      gaps.push(...(r.data.gaps ?? []))
    }
    return shape(hours, gaps, range.from, range.to)
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [pending, results.map((r) => r.dataUpdatedAt).join(), range])
  const done = results.filter((r) => !r.isPending).length
  return (
    <Page title={`Site ${id}`}>
      <Loading q={site}>
        {(s) => (
          <p>
            {s.name} · {s.country} / {s.grid_region} · <Status value={s.status} /> · {num(s.capacity_w / 1000)} kW · owner {s.owner}
          </p>
        )}
      </Loading>
      <Section title="Hourly matching">
        <form className="inline" onSubmit={(e) => e.preventDefault()} aria-label="Period">
          <div className="field">
            <label htmlFor="span">Period</label>
            <select id="span" value={span} onChange={(e) => setSpan(e.target.value as Span)}>
              <option value="day">A day</option>
              <option value="month">A month</option>
              <option value="year">A year</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor="start">Starting (UTC)</label>
            <input id="start" type="date" value={from.slice(0, 10)} onChange={(e) => setStart(e.target.value)} />
          </div>
        </form>
        {pending ? (
          <div role="status">
            <label htmlFor="progress">
              Reading the hours ({done} of {results.length} parts)
            </label>
            <progress id="progress" max={results.length || 1} value={done} />
          </div>
        ) : null}
        {failed ? (
          <p className="problem" role="alert">
            {messageOf(failed.error)}
          </p>
        ) : null}
        {shaped && !failed ? (
          <>
            <div className="score-row">
              <p className="score">
                <span className="score-label">24/7 score</span>
                <strong data-testid="score">{percent(shaped.score)}</strong>
                <span className="hint">of consumption matched hour by hour</span>
              </p>
              <dl className="facts compact">
                <dt>Consumption</dt>
                <dd>{energy(shaped.totals.consumption)}</dd>
                <dt>Renewable supply</dt>
                <dd>{energy(shaped.totals.supply)}</dd>
                <dt>Matched</dt>
                <dd>{energy(shaped.totals.matched)}</dd>
                <dt>Gap periods</dt>
                <dd>{shaped.gaps.length}</dd>
                <dt>Grid surplus periods</dt>
                <dd>{shaped.surplus.length}</dd>
              </dl>
            </div>
            <p className="hint">
              {overlapping.length} attested {overlapping.length === 1 ? 'batch' : 'batches'} in this period; the other hours are matched now from the oracle's readings.
            </p>
            <h3>Consumption, supply and matched energy</h3>
            <p className="hint">Grey: hours without data (gaps). Blue: grid surplus hours.</p>
            <Series s={shaped} />
            <h3>Matched share, hour × day</h3>
            <p className="hint">Grey: hours without data.</p>
            <Heatmap s={shaped} />
            <details>
              <summary>The days as a table</summary>
              <Table caption="Daily 24/7 score" head={['Day', 'Score']}>
                {shaped.days.map((d, i) => (
                  <tr key={d}>
                    <td>{d}</td>
                    <td>{percent(shaped.dailyScore[i])}</td>
                  </tr>
                ))}
              </Table>
            </details>
          </>
        ) : null}
      </Section>
      <Section title="Meters">
        <Loading q={meters} empty={(d) => !d.items?.length}>
          {(d) => (
            <ul>
              {d.items!.map((m) => (
                <li key={m.id}>
                  {m.id}: {m.kind} {m.technology ? `(${m.technology})` : ''} <Status value={m.status} />
                </li>
              ))}
            </ul>
          )}
        </Loading>
      </Section>
      <Section title="Attestations and batches">
        <Loading q={batches} empty={(d) => !d.items?.length}>
          {(d) => (
            <Table caption="Batches minted from this site's attestations" head={['Batch', 'Period', 'Issued', 'Status', 'Attestation', 'Verify']}>
              {d.items!.map((b) => (
                <tr key={b.id}>
                  <td>{b.id}</td>
                  <td>
                    {dayOf(b.period_start)} – {dayOf(b.period_end)}
                  </td>
                  <td>{quantity(b.issued, b.instrument)}</td>
                  <td>
                    <Status value={b.status} />
                  </td>
                  <td className="mono">{b.attestation_id.slice(0, 12)}…</td>
                  <td>
                    <Link to={`/verify/batches/${encodeURIComponent(b.id)}`}>verify</Link>
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </Loading>
      </Section>
    </Page>
  )
}
