import { useState } from 'react'
import { Link } from 'react-router'
import { useQuery } from '@tanstack/react-query'
import { api, unwrap } from '../../api/client'
import { live } from '../../lib/live'
import { date, money, num } from '../../lib/format'
import { surplusShareBP } from '../../lib/surplus'
import { ActionStatus, useAction } from '../../components/form'
import { Loading, Page, Section, Status, Table } from '../../components/ui'

interface Filters {
  instrument: string
  country: string
  technology: string
  vintage: string
  surplus: string // percent, as typed
}

export default function Marketplace() {
  const [draft, setDraft] = useState<Filters>({ instrument: '', country: '', technology: '', vintage: '', surplus: '' })
  const [f, setF] = useState<Filters>(draft)
  const [vintageError, setVintageError] = useState('')
  const [surplusError, setSurplusError] = useState('')
  const surplusBP = surplusShareBP(f.surplus).bp
  const query = {
    limit: 100,
    ...(f.instrument ? { instrument: f.instrument as 'CO2E' | 'EAC' } : {}),
    ...(f.country ? { country: f.country } : {}),
    ...(f.technology ? { technology: f.technology } : {}),
    ...(f.vintage ? { vintage: Number(f.vintage) } : {}),
    ...(surplusBP ? { min_surplus_share: surplusBP } : {}),
  }
  const market = useQuery({ queryKey: ['listings', 'market', query], queryFn: () => unwrap(api.GET('/listings', { params: { query } })), ...live })
  const mine = useQuery({
    queryKey: ['listings', 'buyer', 'reserved'],
    queryFn: () => unwrap(api.GET('/listings', { params: { query: { buyer: 'me', status: 'reserved', limit: 100 } } })),
    ...live,
  })
  const act = useAction()
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setDraft({ ...draft, [k]: e.target.value })
  return (
    <Page title="Marketplace" lead="Open listings of certificates. Reserve one, pay the seller off-ledger before the reservation lapses; the seller confirms and the units are yours.">
      <Section title="Filters">
        <form
          className="inline"
          aria-label="Filter listings"
          onSubmit={(e) => {
            e.preventDefault()
            const vErr = draft.vintage && !/^\d{4}$/.test(draft.vintage) ? 'Enter a year, e.g. 2023.' : ''
            const sErr = surplusShareBP(draft.surplus).error ?? ''
            setVintageError(vErr)
            setSurplusError(sErr)
            if (vErr || sErr) return
            setF(draft)
          }}
        >
          <div className="field">
            <label htmlFor="f-instrument">Instrument</label>
            <select id="f-instrument" value={draft.instrument} onChange={set('instrument')}>
              <option value="">(any)</option>
              <option value="CO2E">CO2E (avoided emissions)</option>
              <option value="EAC">EAC (energy attribute)</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor="f-country">Country</label>
            <input id="f-country" value={draft.country} onChange={set('country')} maxLength={2} placeholder="ES" />
          </div>
          <div className="field">
            <label htmlFor="f-technology">Technology</label>
            <input id="f-technology" value={draft.technology} onChange={set('technology')} placeholder="solar_pv_utility" />
          </div>
          <div className="field">
            <label htmlFor="f-vintage">Vintage (year)</label>
            <input id="f-vintage" value={draft.vintage} onChange={set('vintage')} inputMode="numeric" aria-invalid={vintageError ? true : undefined} aria-describedby={vintageError ? 'f-vintage-err' : undefined} />
            {vintageError ? (
              <p className="field-error" id="f-vintage-err">
                {vintageError}
              </p>
            ) : null}
          </div>
          <div className="field">
            <label htmlFor="f-surplus">Grid surplus share at least (%)</label>
            <input
              id="f-surplus"
              value={draft.surplus}
              onChange={set('surplus')}
              inputMode="decimal"
              placeholder="25"
              aria-invalid={surplusError ? true : undefined}
              aria-describedby={surplusError ? 'f-surplus-err f-surplus-hint' : 'f-surplus-hint'}
            />
            {surplusError ? (
              <p className="field-error" id="f-surplus-err">
                {surplusError}
              </p>
            ) : null}
          </div>
          <button type="submit" className="primary">
            Apply filters
          </button>
        </form>
        <p className="hint" id="f-surplus-hint">
          Grid surplus share: the share of a batch's hours (gaps included) in which the grid had surplus renewable supply.
        </p>
      </Section>
      <div aria-live="polite" className="action-status">
        <ActionStatus action={act} />
      </div>
      <Section title="Open listings">
        <Loading q={market} empty={(d) => !d.items?.length}>
          {(d) => (
            <Table caption="Open listings" head={['Listing', 'Batch', 'Seller', 'Quantity', 'Price', 'Listed', 'Action']}>
              {d.items!.map((l) => (
                <tr key={l.id}>
                  <td>
                    <Link to={`/verify/listings/${encodeURIComponent(l.id)}`}>{l.id}</Link>
                  </td>
                  <td>{l.batch_id}</td>
                  <td>{l.seller}</td>
                  <td>{num(l.quantity)}</td>
                  <td>{money(l.price_minor, l.currency)}</td>
                  <td>{date(l.created_at)}</td>
                  <td>
                    <button type="button" className="primary" disabled={act.busy === l.id} onClick={() => act.run(l.id, () => unwrap(api.POST('/listings/{id}/reserve', { params: { path: { id: l.id } } })), 'Reserved: pay the seller, who then confirms.')}>
                      Reserve
                    </button>
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </Loading>
      </Section>
      <Section title="Your reservations">
        <Loading q={mine} empty={(d) => !d.items?.length}>
          {(d) => (
            <Table caption="Listings you reserved" head={['Listing', 'Batch', 'Seller', 'Quantity', 'Price', 'Status', 'Pay before', 'Action']}>
              {d.items!.map((l) => (
                <tr key={l.id}>
                  <td>{l.id}</td>
                  <td>{l.batch_id}</td>
                  <td>{l.seller}</td>
                  <td>{num(l.quantity)}</td>
                  <td>{money(l.price_minor, l.currency)}</td>
                  <td>
                    <Status value={l.status} />
                  </td>
                  <td>{date(l.reserved_until)}</td>
                  <td>
                    <button type="button" disabled={act.busy === `r-${l.id}`} onClick={() => act.run(`r-${l.id}`, () => unwrap(api.POST('/listings/{id}/release', { params: { path: { id: l.id } } })), 'Reservation released.')}>
                      Release
                    </button>
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
