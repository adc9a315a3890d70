import { useQuery } from '@tanstack/react-query'
import { api, unwrap } from '../../api/client'
import type { components } from '../../api/schema.gen'
import { live } from '../../lib/live'
import { Field, FormStatus, Submit, useSchemaForm } from '../../components/form'
import { Loading, Page, Section, Status, Table } from '../../components/ui'

/** toRFC3339 reads a datetime-local value as UTC. */
function toRFC3339(v: string): string {
  return v.length === 16 ? `${v}:00Z` : v
}

export default function Attest() {
  const sites = useQuery({ queryKey: ['sites', 'approved'], queryFn: () => unwrap(api.GET('/sites', { params: { query: { status: 'approved', limit: 100 } } })), ...live })
  const { form, submit } = useSchemaForm<components['schemas']['AttestBody']>(
    'AttestBody',
    { site_id: '', from: '', to: '', instrument: 'CO2E' },
    (body) => unwrap(api.POST('/attestations', { body })),
    {
      done: (r) => {
        const m = r as { batch_id?: string; quantity?: number }
        return `Attested and co-signed: batch ${m.batch_id} minted (${m.quantity}).`
      },
      transform: (b) => ({ ...b, from: toRFC3339(String(b.from)), to: toRFC3339(String(b.to)) }),
    },
  )
  return (
    <Page title="Attest a site's hours" lead="Build, co-sign and submit an attestation of a site's closed hours; the contract mints a batch.">
      <Section title="Attestation">
        <form onSubmit={submit} noValidate aria-label="Attest">
          <div className="grid">
            <Field form={form} name="site_id" label="Site" type="select" options={(sites.data?.items ?? []).map((s) => ({ value: s.id, label: `${s.id} (${s.owner})` }))} />
            <Field form={form} name="from" label="From (UTC, whole hour)" type="datetime-local" />
            <Field form={form} name="to" label="To (UTC, whole hour)" type="datetime-local" />
            <Field form={form} name="instrument" label="Instrument" />
          </div>
          <FormStatus form={form} />
          <Submit form={form}>Attest and mint</Submit>
        </form>
      </Section>
      <Section title="Approved sites">
        <Loading q={sites} empty={(d) => !d.items?.length}>
          {(d) => (
            <Table caption="Approved sites" head={['Site', 'Owner', 'Grid', 'Batches', 'Status']}>
              {d.items!.map((s) => (
                <tr key={s.id}>
                  <td>{s.id}</td>
                  <td>{s.owner}</td>
                  <td>{s.grid_region}</td>
                  <td>{s.batch_count}</td>
                  <td>
                    <Status value={s.status} />
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
