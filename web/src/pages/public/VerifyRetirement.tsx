import { useParams } from 'react-router'
import { useQuery } from '@tanstack/react-query'
import { retirementQuery } from './queries'
import { messageOf } from '../../api/problem'
import { date, quantity } from '../../lib/format'
import { BatchCard, PublicPage, Verdict } from './common'

export default function VerifyRetirement() {
  const { id = '' } = useParams()
  const q = useQuery(retirementQuery(id))
  return (
    <PublicPage title="Retirement statement">
      {q.isPending ? <p role="status">Checking statement {id}…</p> : null}
      {q.isError ? (
        <p className="problem" role="alert">
          {messageOf(q.error)}
        </p>
      ) : null}
      {q.data ? (
        <>
          <Verdict ok={q.data.verified} what="statement" />
          <p className="downloads">
            <a href={`/v1/public/retirements/${encodeURIComponent(id)}/statement.pdf`} download={`${id}.pdf`}>
              Statement (PDF)
            </a>
            <a href={`/v1/public/retirements/${encodeURIComponent(id)}/statement.jws`} download={`${id}.jws`}>
              Signed statement (JWS)
            </a>
            <a href={`/v1/public/retirements/${encodeURIComponent(id)}/bundle`} download={`${id}.bundle.json`}>
              Proof bundle (check offline with greenmint verify)
            </a>
          </p>
          <section className="card" aria-label="Statement">
            <p className="big">
              <strong>Retired</strong> for <strong data-testid="beneficiary">{q.data.statement.beneficiary}</strong>
            </p>
            <dl className="facts">
              <dt>Statement</dt>
              <dd className="mono wrap">{q.data.statement.id}</dd>
              <dt>Purpose</dt>
              <dd>{q.data.statement.purpose}</dd>
              <dt>Reporting year</dt>
              <dd>{q.data.statement.reporting_year}</dd>
              <dt>Jurisdiction</dt>
              <dd>{q.data.statement.jurisdiction}</dd>
              <dt>Reason</dt>
              <dd>{q.data.statement.reason}</dd>
              <dt>Retired by</dt>
              <dd>{q.data.statement.owner}</dd>
              <dt>Retired at</dt>
              <dd>
                {date(q.data.statement.retired_at)}, block {q.data.retired.block}
              </dd>
              <dt>Transaction</dt>
              <dd className="mono wrap">{q.data.retired.tx_id}</dd>
            </dl>
            <h2>Parts</h2>
            <ul>
              {(q.data.statement.parts ?? []).map((p) => (
                <li key={p.batch_id}>
                  {quantity(p.quantity, p.instrument)} of batch {p.batch_id}
                </li>
              ))}
            </ul>
          </section>
          {(q.data.batches ?? []).map((b) => (
            <BatchCard key={b.batch.id} v={b} />
          ))}
        </>
      ) : null}
    </PublicPage>
  )
}
