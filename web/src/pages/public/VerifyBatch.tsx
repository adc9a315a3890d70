import { useParams } from 'react-router'
import { useQuery } from '@tanstack/react-query'
import { batchQuery } from './queries'
import { messageOf } from '../../api/problem'
import { BatchCard, PublicPage, Verdict } from './common'

export default function VerifyBatch() {
  const { id = '' } = useParams()
  const q = useQuery(batchQuery(id))
  return (
    <PublicPage title="Certificate batch">
      {q.isPending ? <p role="status">Checking batch {id}…</p> : null}
      {q.isError ? (
        <p className="problem" role="alert">
          {messageOf(q.error)}
        </p>
      ) : null}
      {q.data ? (
        <>
          <Verdict ok={q.data.checks.verified} what="batch" />
          <p className="downloads">
            <a href={`/v1/public/batches/${encodeURIComponent(id)}/bundle`} download={`${id}.bundle.json`}>
              Proof bundle (check offline with greenmint verify)
            </a>
          </p>
          <BatchCard v={q.data} />
        </>
      ) : null}
    </PublicPage>
  )
}
