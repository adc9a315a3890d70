import { Link } from 'react-router'
import { api, unwrap } from '../../api/client'
import type { components } from '../../api/schema.gen'
import type { Batch } from '../../api/types'
import { Field, FormStatus, Submit, useSchemaForm } from '../../components/form'
import { BatchSearch } from '../../components/BatchSearch'
import { Page } from '../../components/ui'

type S = components['schemas']

function Cancel({ b }: { b: Batch }) {
  const { form, submit } = useSchemaForm<S['CancelBody']>('CancelBody', { owner: b.owner, quantity: '', reason: '' }, (body) => unwrap(api.POST('/batches/{id}/cancellations', { params: { path: { id: b.id } }, body })), {
    done: () => 'Units cancelled.',
  })
  return (
    <form onSubmit={submit} noValidate aria-label={`Cancel units of ${b.id}`} className="compact-form">
      <Field form={form} name="owner" label="Holder (MSP ID)" />
      <Field form={form} name="quantity" label={`Quantity (tradable ${b.tradable})`} />
      <Field form={form} name="reason" label="Reason" />
      <FormStatus form={form} />
      <Submit form={form}>Cancel units</Submit>
    </form>
  )
}

function Withdraw({ b }: { b: Batch }) {
  const { form, submit } = useSchemaForm<S['RequiredReasonBody']>('RequiredReasonBody', { reason: '' }, (body) => unwrap(api.POST('/batches/{id}/withdrawal', { params: { path: { id: b.id } }, body })), {
    done: () => 'Batch withdrawn.',
  })
  return (
    <form onSubmit={submit} noValidate aria-label={`Withdraw ${b.id}`} className="compact-form">
      <Field form={form} name="reason" label="Reason" />
      <FormStatus form={form} />
      <Submit form={form}>Withdraw batch</Submit>
    </form>
  )
}

export default function RegistryBatches() {
  return (
    <Page title="Cancellations & withdrawals" lead="Cancel a holder's units or withdraw a whole batch, always with a reason; both are recorded on the ledger and shown in the batch's provenance.">
      <BatchSearch
        link={(b) => <Link to={`/batches/${encodeURIComponent(b.id)}`}>{b.id}</Link>}
        action={(b) =>
          b.status === 'active' ? (
            <div className="actions">
              <details>
                <summary>Cancel units</summary>
                <Cancel b={b} />
              </details>
              <details>
                <summary>Withdraw</summary>
                <Withdraw b={b} />
              </details>
            </div>
          ) : (
            '—'
          )
        }
      />
    </Page>
  )
}
