import type { ReactNode } from 'react'
import { Link } from 'react-router'
import { useQuery } from '@tanstack/react-query'
import { api, unwrap } from '../../api/client'
import { live } from '../../lib/live'
import { date, money, num } from '../../lib/format'
import { ActionStatus, useAction } from '../../components/form'
import { ListForm, RetireForm, TransferForm } from '../../components/HoldingActions'
import { Loading, Page, Section, Status, Table } from '../../components/ui'
import type { Listing } from '../../api/types'

function useListings(status: 'open' | 'reserved' | 'sold') {
  return useQuery({
    queryKey: ['listings', 'seller', status],
    queryFn: () => unwrap(api.GET('/listings', { params: { query: { seller: 'me', status, limit: 100 } } })),
    ...live,
  })
}

export default function Holdings() {
  const holdings = useQuery({ queryKey: ['holdings'], queryFn: () => unwrap(api.GET('/holdings', { params: { query: { limit: 100 } } })), ...live })
  const open = useListings('open')
  const reserved = useListings('reserved')
  const sold = useListings('sold')
  const act = useAction()
  const listingRows = (items: Listing[], actions: (l: Listing) => ReactNode) =>
    items.map((l) => (
      <tr key={l.id}>
        <td>
          <Link to={`/verify/listings/${encodeURIComponent(l.id)}`}>{l.id}</Link>
        </td>
        <td>{l.batch_id}</td>
        <td>{num(l.quantity)}</td>
        <td>{money(l.price_minor, l.currency)}</td>
        <td>
          <Status value={l.status} />
        </td>
        <td>{l.buyer ?? '—'}</td>
        <td>{l.reserved_until ? date(l.reserved_until) : '—'}</td>
        <td>
          {actions(l)}
        </td>
      </tr>
    ))
  const head = ['Listing', 'Batch', 'Quantity', 'Price', 'Status', 'Buyer', 'Reserved until', 'Action']
  return (
    <Page title="Holdings & sales" lead="Your units: transfer them, list them for sale, or retire them. Buyers' reservations appear below for you to confirm once paid.">
      <div aria-live="polite" className="action-status">
        <ActionStatus action={act} />
      </div>
      <Section title="Reserved: confirm payment">
        <Loading q={reserved} empty={(d) => !d.items?.length}>
          {(d) => (
            <Table caption="Listings reserved by a buyer" head={head}>
              {listingRows(d.items!, (l) => (
                <button type="button" className="primary" disabled={act.busy === l.id} onClick={() => act.run(l.id, () => unwrap(api.POST('/listings/{id}/confirm', { params: { path: { id: l.id } } })), 'Payment confirmed: the units moved to the buyer.')}>
                  Confirm payment
                </button>
              ))}
            </Table>
          )}
        </Loading>
      </Section>
      <Section title="Holdings">
        <Loading q={holdings} empty={(d) => !d.items?.length}>
          {(d) => (
            <ul className="holdings">
              {d.items!.map((h) => (
                <li key={h.batch_id} className="holding">
                  <p>
                    <strong>{h.batch_id}</strong>: {num(h.tradable)} tradable, {num(h.escrowed)} escrowed
                  </p>
                  {h.tradable > 0 ? (
                    <div className="actions">
                      <details>
                        <summary>Transfer</summary>
                        <TransferForm h={h} />
                      </details>
                      <details>
                        <summary>List for sale</summary>
                        <ListForm h={h} />
                      </details>
                      <details>
                        <summary>Retire</summary>
                        <RetireForm h={h} />
                      </details>
                    </div>
                  ) : null}
                </li>
              ))}
            </ul>
          )}
        </Loading>
      </Section>
      <Section title="Open listings">
        <Loading q={open} empty={(d) => !d.items?.length}>
          {(d) => (
            <Table caption="Your open listings" head={head}>
              {listingRows(d.items!, (l) => (
                <button type="button" disabled={act.busy === l.id} onClick={() => act.run(l.id, () => unwrap(api.POST('/listings/{id}/cancel', { params: { path: { id: l.id } } })), 'Listing cancelled.')}>
                  Cancel listing
                </button>
              ))}
            </Table>
          )}
        </Loading>
      </Section>
      <Section title="Sold">
        <Loading q={sold} empty={(d) => !d.items?.length}>
          {(d) => (
            <Table caption="Your sold listings" head={head}>
              {listingRows(d.items!, () => null)}
            </Table>
          )}
        </Loading>
      </Section>
    </Page>
  )
}
