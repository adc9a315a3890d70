import { useParams } from 'react-router'
import { useQuery } from '@tanstack/react-query'
import { api, unwrap } from '../../api/client'
import { messageOf } from '../../api/problem'
import { BatchCard, PublicPage, Verdict } from './common'

export default function VerifyBatch() {
  const { id = '' } = useParams()
  const q = useQuery({
    queryKey: ['public', 'batch', id],
    queryFn: () => unwrap(api.GET('/public/batches/{id}', { params: { path: { id } } })),
    retry: false,
  })
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
          <BatchCard v={q.data} />
        </>
      ) : null}
    </PublicPage>
  )
}
