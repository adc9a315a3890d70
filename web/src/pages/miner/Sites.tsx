import { Link } from 'react-router'
import { useQuery } from '@tanstack/react-query'
import { api, unwrap } from '../../api/client'
import { live } from '../../lib/live'
import { date, num } from '../../lib/format'
import { Loading, Page, Section, Status, Table } from '../../components/ui'

export default function Sites() {
  const sites = useQuery({ queryKey: ['sites'], queryFn: () => unwrap(api.GET('/sites', { params: { query: { limit: 100 } } })), ...live })
  const meters = useQuery({ queryKey: ['meters'], queryFn: () => unwrap(api.GET('/meters', { params: { query: { limit: 100 } } })), ...live })
  return (
    <Page title="Sites & meters" lead="Your organisation's mining sites and their meters. New ones stay pending until the registry approves them.">
      <p>
        <Link to="/miner/register" className="button">
          Register a site or meter
        </Link>
      </p>
      <Section title="Sites">
        <Loading q={sites} empty={(d) => !d.items?.length}>
          {(d) => (
            <Table caption="Your sites" head={['Site', 'Name', 'Status', 'Country / grid', 'Capacity', 'Batches', 'Registered']}>
              {d.items!.map((s) => (
                <tr key={s.id}>
                  <td>
                    <Link to={`/miner/sites/${encodeURIComponent(s.id)}`}>{s.id}</Link>
                  </td>
                  <td>{s.name}</td>
                  <td>
                    <Status value={s.status} />
                  </td>
                  <td>
                    {s.country} / {s.grid_region}
                  </td>
                  <td>{num(s.capacity_w / 1000)} kW</td>
                  <td>{s.batch_count}</td>
                  <td>{date(s.registered_at)}</td>
                </tr>
              ))}
            </Table>
          )}
        </Loading>
      </Section>
      <Section title="Meters">
        <Loading q={meters} empty={(d) => !d.items?.length}>
          {(d) => (
            <Table caption="Your meters" head={['Meter', 'Site', 'Kind', 'Technology', 'Status', 'Interval', 'Capacity']}>
              {d.items!.map((m) => (
                <tr key={m.id}>
                  <td>{m.id}</td>
                  <td>{m.site_id}</td>
                  <td>{m.kind}</td>
                  <td>{m.technology || '—'}</td>
                  <td>
                    <Status value={m.status} />
                  </td>
                  <td>{m.interval_minutes} min</td>
                  <td>{num(m.capacity_w / 1000)} kW</td>
                </tr>
              ))}
            </Table>
          )}
        </Loading>
      </Section>
    </Page>
  )
}
