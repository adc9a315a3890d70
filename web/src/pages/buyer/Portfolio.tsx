import { useState } from 'react'
import { Link } from 'react-router'
import { useQuery, useQueryClient } from '@tanstack/react-query'
import { api, unwrap } from '../../api/client'
import { ApiError, messageOf } from '../../api/problem'
import { buildBody, type FieldErrors } from '../../api/validate'
import { live } from '../../lib/live'
import { num } from '../../lib/format'
import { ActionStatus, Field, FormStatus, useAction, type SchemaForm } from '../../components/form'
import { Loading, Page, Section, Table } from '../../components/ui'

export default function Portfolio() {
  const holdings = useQuery({ queryKey: ['holdings'], queryFn: () => unwrap(api.GET('/holdings', { params: { query: { limit: 100 } } })), ...live })
  const qc = useQueryClient()
  const account = useQuery({ queryKey: ['account'], queryFn: () => unwrap(api.GET('/account')), retry: false })
  const noAccount = account.error instanceof ApiError && account.error.status === 404
  const act = useAction()
  const [qty, setQty] = useState<Record<string, string>>({})
  const [values, setValues] = useState<Record<string, string>>({ beneficiary: '', jurisdiction: '', purpose: '', reporting_year: String(new Date().getUTCFullYear() - 1), reason: '' })
  const [errors, setErrors] = useState<FieldErrors>({})
  const [error, setError] = useState('')
  const [done, setDone] = useState<{ id: string } | null>(null)
  const [busy, setBusy] = useState(false)
  const form: SchemaForm = {
    schema: 'RetireBody',
    values,
    errors,
    error,
    done: done ? `Retired into statement ${done.id}.` : '',
    busy,
    setError,
    set: (k, v) => {
      setValues({ ...values, [k]: v })
      setErrors((e) => ({ ...e, [k]: '' }))
    },
    reset: () => undefined,
  }
  const items = holdings.data?.items ?? []
  const chosen = items.filter((h) => (qty[h.batch_id] ?? '').trim() !== '')
  const submit = async (e: React.FormEvent) => {
    e.preventDefault()
    setError('')
    setDone(null)
    const errs: FieldErrors = {}
    const parts = chosen.map((h, i) => {
      const t = qty[h.batch_id].trim()
      if (!/^\d+$/.test(t) || Number(t) < 1) errs[`qty.${h.batch_id}`] = 'Enter a whole number of at least 1.'
      else if (Number(t) > h.tradable) errs[`qty.${h.batch_id}`] = `At most ${h.tradable} are tradable.`
      void i
      return { batch_id: h.batch_id, quantity: Number(t) }
    })
    const built = buildBody<Record<string, unknown>>('RetireBody', values)
    Object.assign(errs, built.errors)
    if (!parts.length) setError('Enter a quantity for at least one holding.')
    if (Object.keys(errs).length || !parts.length) {
      setErrors(errs)
      if (parts.length) setError('Some fields need attention: see the messages beside them.')
      return
    }
    setBusy(true)
    try {
      const r = await unwrap(api.POST('/retirements', { body: { ...(built.body as object), parts } as never }))
      setDone({ id: r.result.id })
      setQty({})
      await qc.invalidateQueries()
    } catch (err) {
      if (err instanceof ApiError) {
        const fe = err.fieldErrors()
        // parts[i].quantity → the holding's quantity field
        for (const [k, v] of Object.entries(fe)) {
          const m = /^parts\[(\d+)\]/.exec(k)
          if (m && chosen[Number(m[1])]) fe[`qty.${chosen[Number(m[1])].batch_id}`] = v
        }
        setErrors(fe)
      }
      setError(messageOf(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <Page title="Portfolio & retirement" lead="Your certificates. Retire parts of several batches into one statement, for a beneficiary and a reporting year. Retiring is irreversible.">
      {noAccount ? (
        <Section title="Your account">
          <p>Your organisation has no account yet: open one to receive transfers (your first purchase opens it too).</p>
          <button type="button" className="primary" disabled={!!act.busy} onClick={() => act.run('account', () => unwrap(api.POST('/account')), 'Account opened.')}>
            Open our account
          </button>
          <ActionStatus action={act} />
        </Section>
      ) : null}
      <form onSubmit={submit} noValidate aria-label="Retire in bulk">
        <Section title="Holdings">
          <Loading q={holdings} empty={(d) => !d.items?.length}>
            {() => (
              <Table caption="Your holdings; enter a quantity to retire" head={['Batch', 'Tradable', 'Escrowed', 'Retire quantity']}>
                {items.map((h) => {
                  const err = errors[`qty.${h.batch_id}`]
                  const id = `qty-${h.batch_id}`
                  return (
                    <tr key={h.batch_id}>
                      <td>
                        <Link to={`/verify/batches/${encodeURIComponent(h.batch_id)}`}>{h.batch_id}</Link>
                      </td>
                      <td>{num(h.tradable)}</td>
                      <td>{num(h.escrowed)}</td>
                      <td>
                        <label htmlFor={id} className="sr-only">
                          Quantity of {h.batch_id} to retire
                        </label>
                        <input
                          id={id}
                          inputMode="numeric"
                          size={12}
                          value={qty[h.batch_id] ?? ''}
                          disabled={h.tradable === 0}
                          aria-invalid={err ? true : undefined}
                          aria-describedby={err ? `${id}-err` : undefined}
                          onChange={(e) => setQty({ ...qty, [h.batch_id]: e.target.value })}
                        />
                        <button type="button" className="link" disabled={h.tradable === 0} onClick={() => setQty({ ...qty, [h.batch_id]: String(h.tradable) })} aria-label={`Retire all ${h.tradable} of ${h.batch_id}`}>
                          all
                        </button>
                        {err ? (
                          <p className="field-error" id={`${id}-err`}>
                            {err}
                          </p>
                        ) : null}
                      </td>
                    </tr>
                  )
                })}
              </Table>
            )}
          </Loading>
        </Section>
        <Section title="Statement">
          <div className="grid">
            <Field form={form} name="beneficiary" label="Beneficiary" />
            <Field form={form} name="jurisdiction" label="Jurisdiction" hint="e.g. DE-BE." />
            <Field form={form} name="purpose" label="Purpose" />
            <Field form={form} name="reporting_year" label="Reporting year" />
            <Field form={form} name="reason" label="Reason" type="textarea" />
          </div>
          <p>
            {chosen.length} {chosen.length === 1 ? 'batch' : 'batches'} chosen.
          </p>
          <FormStatus form={form} />
          {done ? (
            <p>
              <Link to={`/verify/retirements/${encodeURIComponent(done.id)}`}>Open the statement's public verification page</Link>
            </p>
          ) : null}
          <button type="submit" className="primary" disabled={busy} aria-busy={busy}>
            {busy ? 'Retiring…' : 'Retire into one statement'}
          </button>
        </Section>
      </form>
    </Page>
  )
}
