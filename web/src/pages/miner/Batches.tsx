import { Link } from 'react-router'
import { useQuery } from '@tanstack/react-query'
import { api, unwrap } from '../../api/client'
import { useMe } from '../../auth'
import { live } from '../../lib/live'
import { day, quantity } from '../../lib/format'
import { Loading, Page, Section, Status, Table } from '../../components/ui'

export default function Batches() {
  const me = useMe()
  const org = me.data?.org ?? ''
  const q = useQuery({
    queryKey: ['batches', 'owner', org],
    enabled: !!org,
    queryFn: () => unwrap(api.GET('/batches', { params: { query: { owner: org, limit: 100 } } })),
    ...live,
  })
  return (
    <Page title="Batches" lead="Certificate batches minted from your sites' attestations: what was issued and where the units are now.">
      <Section title="Your batches">
        <Loading q={q} empty={(d) => !d.items?.length}>
          {(d) => (
            <Table caption="Batches you own" head={['Batch', 'Site', 'Instrument', 'Period', 'Issued', 'Tradable', 'Escrowed', 'Retired', 'Flags', 'Status', 'Verify']}>
              {d.items!.map((b) => (
                <tr key={b.id}>
                  <td>{b.id}</td>
                  <td>
                    <Link to={`/miner/sites/${encodeURIComponent(b.site_id)}`}>{b.site_id}</Link>
                  </td>
                  <td>{b.instrument}</td>
                  <td>
                    {day(b.period_start)} – {day(b.period_end)}
                  </td>
                  <td>{quantity(b.issued, b.instrument)}</td>
                  <td>{quantity(b.tradable, b.instrument)}</td>
                  <td>{quantity(b.escrowed, b.instrument)}</td>
                  <td>{quantity(b.retired, b.instrument)}</td>
                  <td>{b.open_flags ? <span className="badge bad">{b.open_flags} open</span> : '—'}</td>
                  <td>
                    <Status value={b.status} />
                  </td>
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
