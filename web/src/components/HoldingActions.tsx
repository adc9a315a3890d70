// What an owner does with a holding: transfer, list for sale, retire.
import { api, unwrap } from '../api/client'
import type { components } from '../api/schema.gen'
import type { Holding } from '../api/types'
import { Field, FormStatus, Submit, useSchemaForm } from './form'

type S = components['schemas']

export function TransferForm({ h }: { h: Holding }) {
  const { form, submit } = useSchemaForm<S['TransferBody']>('TransferBody', { batch_id: h.batch_id, to: '', quantity: '' }, (body) => unwrap(api.POST('/transfers', { body })), {
    done: () => 'Transferred.',
  })
  return (
    <form onSubmit={submit} noValidate aria-label={`Transfer from ${h.batch_id}`}>
      <Field form={form} name="to" label="To organisation (MSP ID)" />
      <Field form={form} name="quantity" label={`Quantity (up to ${h.tradable})`} />
      <FormStatus form={form} />
      <Submit form={form}>Transfer</Submit>
    </form>
  )
}

export function ListForm({ h }: { h: Holding }) {
  const { form, submit } = useSchemaForm<S['ListBody']>(
    'ListBody',
    { batch_id: h.batch_id, quantity: '', price_minor: '', currency: 'EUR' },
    (body) => unwrap(api.POST('/listings', { body })),
    { done: () => 'Listed: the units are escrowed until sold or cancelled.' },
  )
  return (
    <form onSubmit={submit} noValidate aria-label={`List ${h.batch_id} for sale`}>
      <Field form={form} name="quantity" label={`Quantity (up to ${h.tradable})`} />
      <Field form={form} name="price_minor" label="Price (minor units, e.g. cents)" />
      <Field form={form} name="currency" label="Currency" hint="Three letters, e.g. EUR." />
      <FormStatus form={form} />
      <Submit form={form}>List for sale</Submit>
    </form>
  )
}

export function RetireForm({ h }: { h: Holding }) {
  const { form, submit } = useSchemaForm<S['RetireBody']>(
    'RetireBody',
    { quantity: '', beneficiary: '', jurisdiction: '', purpose: '', reporting_year: String(new Date().getUTCFullYear()), reason: '' },
    (body) => unwrap(api.POST('/retirements', { body })),
    {
      done: (r) => `Retired into statement ${(r as { result?: { id?: string } }).result?.id ?? ''}.`,
      transform: (body, v) => ({ ...body, parts: [{ batch_id: h.batch_id, quantity: Number(v.quantity) }] }),
    },
  )
  return (
    <form onSubmit={submit} noValidate aria-label={`Retire from ${h.batch_id}`}>
      <div className="field">
        <label htmlFor={`rq-${h.batch_id}`}>Quantity (up to {h.tradable}) *</label>
        <input
          id={`rq-${h.batch_id}`}
          inputMode="numeric"
          value={form.values.quantity}
          onChange={(e) => form.set('quantity', e.target.value)}
          aria-invalid={form.errors['parts[0].quantity'] ? true : undefined}
        />
        {form.errors['parts[0].quantity'] ? <p className="field-error">{form.errors['parts[0].quantity']}</p> : null}
      </div>
      <Field form={form} name="beneficiary" label="Beneficiary" />
      <Field form={form} name="jurisdiction" label="Jurisdiction" hint="e.g. ES or DE-BE." />
      <Field form={form} name="purpose" label="Purpose" />
      <Field form={form} name="reporting_year" label="Reporting year" />
      <Field form={form} name="reason" label="Reason" />
      <FormStatus form={form} />
      <Submit form={form}>Retire (irreversible)</Submit>
    </form>
  )
}
