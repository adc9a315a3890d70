import { api, unwrap } from '../../api/client'
import type { components } from '../../api/schema.gen'
import { Field, FormStatus, Submit, useSchemaForm } from '../../components/form'
import { Page, Section } from '../../components/ui'

/** toRFC3339 reads a datetime-local value as UTC. */
function toRFC3339(v: string): string {
  return v.length === 16 ? `${v}:00Z` : v
}

export default function Attest() {
  const { form, submit } = useSchemaForm<components['schemas']['AttestBody']>(
    'AttestBody',
    { site_id: '', from: '', to: '', instrument: 'CO2E' },
    (body) => unwrap(api.POST('/attestations', { body })),
    {
      done: (r) => {
        const m = r as { batch_id?: string; quantity?: number }
        return `Attested and co-signed: batch ${m.batch_id} minted (${m.quantity} units).`
      },
      transform: (b) => ({ ...b, from: toRFC3339(String(b.from)), to: toRFC3339(String(b.to)) }),
    },
  )
  return (
    <Page title="Attest a site's hours" lead="Build, co-sign and submit an attestation of a site's closed hours from the readings the oracle accepted; the contract mints a batch.">
      <Section title="Attestation">
        <form onSubmit={submit} noValidate aria-label="Attest">
          <div className="grid">
            <Field form={form} name="site_id" label="Site ID" hint="An approved site, e.g. SITE0101." />
            <Field form={form} name="from" label="From (UTC, whole hour)" type="datetime-local" />
            <Field form={form} name="to" label="To (UTC, whole hour)" type="datetime-local" />
            <Field form={form} name="instrument" label="Instrument" />
          </div>
          <FormStatus form={form} />
          <Submit form={form}>Attest and mint</Submit>
        </form>
      </Section>
    </Page>
  )
}
