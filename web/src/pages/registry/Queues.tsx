import { useState } from 'react'
import { Link } from 'react-router'
import { useQuery } from '@tanstack/react-query'
import { api, unwrap } from '../../api/client'
import { live } from '../../lib/live'
import { date, num } from '../../lib/format'
import { ActionStatus, useAction } from '../../components/form'
import { Loading, Page, Section, Status, Table } from '../../components/ui'

type Kind = 'sites' | 'meters'

function Decide({ kind, id, act }: { kind: Kind; id: string; act: ReturnType<typeof useAction> }) {
  const [reason, setReason] = useState('')
  const path = { params: { path: { id } }, body: reason ? { reason } : {} }
  const rid = `reason-${kind}-${id}`
  return (
    <div className="decide">
      <label htmlFor={rid} className="sr-only">
        Reason for {id} (optional)
      </label>
      <input id={rid} placeholder="Reason (optional)" value={reason} maxLength={1000} onChange={(e) => setReason(e.target.value)} />
      <button
        type="button"
        className="primary"
        disabled={act.busy === id}
        onClick={() =>
          act.run(id, () => (kind === 'sites' ? unwrap(api.POST('/sites/{id}/approve', path)) : unwrap(api.POST('/meters/{id}/approve', path))), `${id} approved.`)
        }
      >
        Approve <span className="sr-only">{id}</span>
      </button>
      <button
        type="button"
        className="danger"
        disabled={act.busy === id}
        onClick={() =>
          act.run(id, () => (kind === 'sites' ? unwrap(api.POST('/sites/{id}/suspend', path)) : unwrap(api.POST('/meters/{id}/suspend', path))), `${id} suspended.`)
        }
      >
        Suspend <span className="sr-only">{id}</span>
      </button>
    </div>
  )
}

export default function Queues() {
  const [status, setStatus] = useState<'pending' | 'approved' | 'suspended'>('pending')
  const sites = useQuery({ queryKey: ['sites', status], queryFn: () => unwrap(api.GET('/sites', { params: { query: { status, limit: 100 } } })), ...live })
  const meters = useQuery({ queryKey: ['meters', status], queryFn: () => unwrap(api.GET('/meters', { params: { query: { status, limit: 100 } } })), ...live })
  const act = useAction()
  return (
    <Page title="Registration queues" lead="Sites and meters waiting for the registry. Approve what was inspected; suspend what must stop issuing.">
      <div className="field inline-field">
        <label htmlFor="q-status">Show</label>
        <select id="q-status" value={status} onChange={(e) => setStatus(e.target.value as typeof status)}>
          <option value="pending">Pending</option>
          <option value="approved">Approved</option>
          <option value="suspended">Suspended</option>
        </select>
      </div>
      <div aria-live="polite" className="action-status">
        <ActionStatus action={act} />
      </div>
      <Section title={`Sites (${status})`} id="sites-q">
        <Loading q={sites} empty={(d) => !d.items?.length}>
          {(d) => (
            <Table caption={`${status} sites`} head={['Site', 'Owner', 'Name', 'Country / grid', 'Capacity', 'Registered', 'Status', 'Decision']}>
              {d.items!.map((s) => (
                <tr key={s.id}>
                  <td>
                    <Link to={`/sites/${encodeURIComponent(s.id)}`}>{s.id}</Link>
                  </td>
                  <td>{s.owner}</td>
                  <td>{s.name}</td>
                  <td>
                    {s.country} / {s.grid_region}
                  </td>
                  <td>{num(s.capacity_w / 1000)} kW</td>
                  <td>{date(s.registered_at)}</td>
                  <td>
                    <Status value={s.status} />
                  </td>
                  <td>
                    <Decide kind="sites" id={s.id} act={act} />
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </Loading>
      </Section>
      <Section title={`Meters (${status})`} id="meters-q">
        <Loading q={meters} empty={(d) => !d.items?.length}>
          {(d) => (
            <Table caption={`${status} meters`} head={['Meter', 'Site', 'Owner', 'Kind', 'Technology', 'Capacity', 'Status', 'Decision']}>
              {d.items!.map((m) => (
                <tr key={m.id}>
                  <td>{m.id}</td>
                  <td>{m.site_id}</td>
                  <td>{m.owner}</td>
                  <td>{m.kind}</td>
                  <td>{m.technology || '—'}</td>
                  <td>{num(m.capacity_w / 1000)} kW</td>
                  <td>
                    <Status value={m.status} />
                  </td>
                  <td>
                    <Decide kind="meters" id={m.id} act={act} />
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
