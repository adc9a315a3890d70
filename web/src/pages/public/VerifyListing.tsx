import { useParams } from 'react-router'
import { useQuery } from '@tanstack/react-query'
import { listingQuery } from './queries'
import { messageOf } from '../../api/problem'
import { date, money, quantity } from '../../lib/format'
import { Status } from '../../components/ui'
import { BatchCard, PublicPage, Verdict } from './common'

export default function VerifyListing() {
  const { id = '' } = useParams()
  const q = useQuery(listingQuery(id))
  const l = q.data
  return (
    <PublicPage title="Listing">
      {q.isPending ? <p role="status">Checking listing {id}…</p> : null}
      {q.isError ? (
        <p className="problem" role="alert">
          {messageOf(q.error)}
        </p>
      ) : null}
      {l ? (
        <>
          <Verdict ok={l.batch.checks.verified} what="listing's batch" />
          <section className="card" aria-label="Listing">
            <dl className="facts">
              <dt>Listing</dt>
              <dd className="mono wrap">{l.id}</dd>
              <dt>Status</dt>
              <dd>
                <Status value={l.status} />
              </dd>
              <dt>Quantity</dt>
              <dd>{quantity(l.quantity, l.batch.batch.instrument)}</dd>
              <dt>Price</dt>
              <dd>{l.price_minor !== undefined ? money(l.price_minor, l.currency) : 'shown while open'}</dd>
              <dt>Seller</dt>
              <dd>{l.seller}</dd>
              <dt>Listed</dt>
              <dd>{date(l.created_at)}</dd>
            </dl>
          </section>
          <BatchCard v={l.batch} />
        </>
      ) : null}
    </PublicPage>
  )
}
