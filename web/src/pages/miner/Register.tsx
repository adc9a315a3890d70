import { useQuery } from '@tanstack/react-query'
import { api, unwrap } from '../../api/client'
import type { components } from '../../api/schema.gen'
import { Field, FormStatus, Submit, useSchemaForm } from '../../components/form'
import { Page, Section } from '../../components/ui'

type SiteBody = components['schemas']['SiteBody']
type MeterBody = components['schemas']['MeterBody']

export default function Register() {
  const sites = useQuery({ queryKey: ['sites'], queryFn: () => unwrap(api.GET('/sites', { params: { query: { limit: 100 } } })) })
  const site = useSchemaForm<SiteBody>(
    'SiteBody',
    {
      site_id: '',
      name: '',
      country: '',
      grid_region: '',
      latitude_microdeg: '',
      longitude_microdeg: '',
      capacity_w: '',
      'fleet.hashrate_ths': '',
      'fleet.efficiency_mj_per_th': '',
    },
    (body) => unwrap(api.POST('/sites', { body })),
    { done: () => 'Site registered: it is pending until the registry approves it.' },
  )
  const meter = useSchemaForm<MeterBody>(
    'MeterBody',
    { meter_id: '', site_id: '', kind: '', technology: '', capacity_w: '', interval_minutes: '', public_key: '' },
    (body) => unwrap(api.POST('/meters', { body })),
    { done: () => 'Meter registered: it is pending until the registry approves it.' },
  )
  const siteOptions = (sites.data?.items ?? []).map((s) => ({ value: s.id, label: `${s.id} — ${s.name} (${s.status})` }))
  return (
    <Page title="Register a site or meter" lead="Fields marked * are required. The registry checks the same limits shown here.">
      <Section title="New site">
        <form onSubmit={site.submit} noValidate aria-label="New site">
          <div className="grid">
            <Field form={site.form} name="site_id" label="Site ID" hint="Your own identifier, e.g. SITE0900." />
            <Field form={site.form} name="name" label="Name" />
            <Field form={site.form} name="country" label="Country" hint="Two-letter code, e.g. ES." />
            <Field form={site.form} name="grid_region" label="Grid region" hint="e.g. ES." />
            <Field form={site.form} name="latitude_microdeg" label="Latitude (microdegrees)" hint="37.05° is 37050000." />
            <Field form={site.form} name="longitude_microdeg" label="Longitude (microdegrees)" hint="−2.39° is -2390000." />
            <Field form={site.form} name="capacity_w" label="Capacity (W)" />
            <Field form={site.form} name="fleet.hashrate_ths" label="Fleet hashrate (TH/s)" />
            <Field form={site.form} name="fleet.efficiency_mj_per_th" label="Fleet efficiency (mJ/TH)" />
          </div>
          <FormStatus form={site.form} />
          <Submit form={site.form}>Register site</Submit>
        </form>
      </Section>
      <Section title="New meter">
        <form onSubmit={meter.submit} noValidate aria-label="New meter">
          <div className="grid">
            <Field form={meter.form} name="meter_id" label="Meter ID" />
            <Field form={meter.form} name="site_id" label="Site" type="select" options={siteOptions} />
            <Field form={meter.form} name="kind" label="Kind" />
            <Field form={meter.form} name="technology" label="Technology" hint="For generation meters, e.g. solar_pv_utility." />
            <Field form={meter.form} name="capacity_w" label="Capacity (W)" />
            <Field form={meter.form} name="interval_minutes" label="Interval (minutes)" type="select" options={['5', '15', '30', '60'].map((v) => ({ value: v, label: `${v} minutes` }))} />
            <Field form={meter.form} name="public_key" label="Public key" hint="The meter's Ed25519 public key, base64 (44 characters)." />
          </div>
          <FormStatus form={meter.form} />
          <Submit form={meter.form}>Register meter</Submit>
        </form>
      </Section>
    </Page>
  )
}
