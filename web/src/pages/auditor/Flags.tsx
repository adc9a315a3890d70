import { Link } from 'react-router'
import { useQuery } from '@tanstack/react-query'
import { api, unwrap } from '../../api/client'
import { live } from '../../lib/live'
import { date } from '../../lib/format'
import { Loading, Page, Section, Status, Table } from '../../components/ui'
import { ResolveForm } from '../registry/ResolveForm'

export function FlagList({ resolve }: { resolve?: boolean }) {
  const q = useQuery({ queryKey: ['flags'], queryFn: () => unwrap(api.GET('/flags', { params: { query: { limit: 100 } } })), ...live })
  return (
    <Section title="Flags">
      <Loading q={q} empty={(d) => !d.items?.length}>
        {(d) => (
          <Table caption="Auditors' flags" head={['Batch', 'Opened', 'Auditor', 'Reason', 'Status', 'Resolution']}>
            {d.items!.map((f) => (
              <tr key={f.id}>
                <td>
                  <Link to={`/batches/${encodeURIComponent(f.batch_id)}`}>{f.batch_id}</Link>
                </td>
                <td>{date(f.opened_at)}</td>
                <td>{f.auditor}</td>
                <td>{f.reason}</td>
                <td>
                  <Status value={f.status} />
                </td>
                <td>{f.status === 'open' && resolve ? <ResolveForm batchId={f.batch_id} flagId={f.id} /> : (f.resolution ?? '—')}</td>
              </tr>
            ))}
          </Table>
        )}
      </Loading>
    </Section>
  )
}

export default function Flags() {
  return (
    <Page title="Flags" lead="Inquiries opened on batches. A flagged batch's units are frozen until the registry resolves the flag.">
      <FlagList />
    </Page>
  )
}
