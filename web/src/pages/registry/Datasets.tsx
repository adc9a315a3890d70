import { useQuery } from '@tanstack/react-query'
import { api, unwrap } from '../../api/client'
import type { components } from '../../api/schema.gen'
import { live } from '../../lib/live'
import { date } from '../../lib/format'
import { Field, FormStatus, Submit, useSchemaForm } from '../../components/form'
import { Loading, Page, Section, Table } from '../../components/ui'

export default function Datasets() {
  const q = useQuery({ queryKey: ['datasets'], queryFn: () => unwrap(api.GET('/datasets')), ...live })
  const { form, submit } = useSchemaForm<components['schemas']['DatasetBody']>(
    'DatasetBody',
    { id: '', version: '', source: '', license: '', grid_factors_csv: '', lifecycle_csv: '', hourly_csv: '' },
    (body) => unwrap(api.POST('/datasets', { body })),
    { done: () => 'Dataset published.' },
  )
  return (
    <Page title="Emission-factor datasets" lead="Every attestation pins a registered dataset by its SHA-256 (R9).">
      <Section title="Registered datasets">
        <Loading q={q} empty={(d) => !d.items?.length}>
          {(d) => (
            <Table caption="Registered datasets" head={['Dataset', 'Version', 'Source', 'Licence', 'Grid regions', 'SHA-256', 'Published']}>
              {d.items!.map((x) => (
                <tr key={`${x.id}@${x.version}`}>
                  <td>{x.id}</td>
                  <td>{x.version}</td>
                  <td>{x.source}</td>
                  <td>{x.license}</td>
                  <td>{(x.grid_factors ?? []).length}</td>
                  <td className="mono wrap">{x.sha256}</td>
                  <td>{date(x.published_at)}</td>
                </tr>
              ))}
            </Table>
          )}
        </Loading>
      </Section>
      <Section title="Publish a dataset">
        <form onSubmit={submit} noValidate aria-label="Publish a dataset">
          <div className="grid">
            <Field form={form} name="id" label="Dataset ID" />
            <Field form={form} name="version" label="Version" />
            <Field form={form} name="source" label="Source" />
            <Field form={form} name="license" label="Licence" />
          </div>
          <Field form={form} name="grid_factors_csv" label="Grid factors (CSV)" type="textarea" />
          <Field form={form} name="lifecycle_csv" label="Lifecycle factors (CSV)" type="textarea" />
          <Field form={form} name="hourly_csv" label="Hourly factors (CSV)" type="textarea" />
          <FormStatus form={form} />
          <Submit form={form}>Publish</Submit>
        </form>
      </Section>
    </Page>
  )
}
