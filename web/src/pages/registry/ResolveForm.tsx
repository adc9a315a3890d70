import { api, unwrap } from '../../api/client'
import type { components } from '../../api/schema.gen'
import { Field, FormStatus, Submit, useSchemaForm } from '../../components/form'

export function ResolveForm({ batchId, flagId }: { batchId: string; flagId: string }) {
  const { form, submit } = useSchemaForm<components['schemas']['ResolveBody']>(
    'ResolveBody',
    { outcome: '', resolution: '' },
    (body) => unwrap(api.POST('/batches/{id}/flags/{flag}/resolution', { params: { path: { id: batchId, flag: flagId } }, body })),
    { done: () => 'Flag resolved.' },
  )
  return (
    <form onSubmit={submit} noValidate aria-label={`Resolve flag ${flagId}`} className="compact-form">
      <Field form={form} name="outcome" label="Outcome" options={[{ value: 'upheld', label: 'Upheld' }, { value: 'dismissed', label: 'Dismissed' }]} type="select" />
      <Field form={form} name="resolution" label="Resolution" />
      <FormStatus form={form} />
      <Submit form={form}>Resolve</Submit>
    </form>
  )
}
