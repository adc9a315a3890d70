// Forms that validate as the API does (the body's schema) before sending,
// and show the gateway's problems next to the field or action that caused
// them.
import { useId, useRef, useState, type ReactNode } from 'react'
import { useQueryClient } from '@tanstack/react-query'
import { ApiError, messageOf } from '../api/problem'
import { buildBody, fieldRule, type FieldErrors, type FormValues } from '../api/validate'

export interface SchemaForm {
  schema: string
  values: FormValues
  errors: FieldErrors
  set: (path: string, v: string) => void
  error: string
  done: string
  busy: boolean
  setError: (e: string) => void
  reset: () => void
}

/**
 * useSchemaForm holds a form of request body `schema`. submit validates,
 * sends with `send`, maps a problem's errors to fields and invalidates the
 * cached queries on success (lists show the change once the read model has
 * it; they poll meanwhile).
 */
export function useSchemaForm<B>(
  schema: string,
  initial: FormValues,
  send: (body: B) => Promise<unknown>,
  opts: { done?: (r: unknown) => string; transform?: (body: Record<string, unknown>, values: FormValues) => Record<string, unknown> } = {},
) {
  const qc = useQueryClient()
  const [values, setValues] = useState<FormValues>(initial)
  const [errors, setErrors] = useState<FieldErrors>({})
  const [error, setError] = useState('')
  const [done, setDone] = useState('')
  const [busy, setBusy] = useState(false)
  const form: SchemaForm = {
    schema,
    values,
    errors,
    error,
    done,
    busy,
    setError,
    set: (path, v) => {
      setValues((old) => ({ ...old, [path]: v }))
      setErrors((old) => {
        if (!old[path]) return old
        const next = { ...old }
        delete next[path]
        return next
      })
    },
    reset: () => {
      setValues(initial)
      setErrors({})
    },
  }
  const submit = async (e?: { preventDefault: () => void }) => {
    e?.preventDefault()
    setError('')
    setDone('')
    const built = buildBody<Record<string, unknown>>(schema, values)
    if (!built.body) {
      setErrors(built.errors)
      setError('Some fields need attention: see the messages beside them.')
      return
    }
    const body = (opts.transform ? opts.transform(built.body, values) : built.body) as B
    setBusy(true)
    try {
      const r = await send(body)
      setErrors({})
      setDone(opts.done ? opts.done(r) : 'Done.')
      await qc.invalidateQueries()
    } catch (err) {
      if (err instanceof ApiError) setErrors(err.fieldErrors())
      setError(messageOf(err))
    } finally {
      setBusy(false)
    }
  }
  return { form, submit }
}

interface FieldProps {
  form: SchemaForm
  name: string
  label: string
  hint?: string
  type?: 'text' | 'number' | 'password' | 'datetime-local' | 'date' | 'textarea' | 'select'
  options?: { value: string; label: string }[]
  autoComplete?: string
}

/** Field is a labelled input bound to a SchemaForm, with its limits and error. */
export function Field({ form, name, label, hint, type = 'text', options, autoComplete }: FieldProps) {
  const id = useId()
  const { rule, required } = fieldRule(form.schema, name)
  const err = form.errors[name]
  const describedBy = [hint ? `${id}-hint` : '', err ? `${id}-err` : ''].filter(Boolean).join(' ') || undefined
  const common = {
    id,
    name,
    value: form.values[name] ?? '',
    'aria-invalid': err ? true : undefined,
    'aria-describedby': describedBy,
    required,
  }
  let input: ReactNode
  const kind = type === 'text' && rule.enum ? 'select' : type
  if (kind === 'select') {
    const opts = options ?? (rule.enum ?? []).map((v) => ({ value: String(v), label: String(v) }))
    input = (
      <select {...common} onChange={(e) => form.set(name, e.target.value)}>
        {!required || !form.values[name] ? <option value="">{required ? 'Choose…' : '(any)'}</option> : null}
        {opts.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    )
  } else if (kind === 'textarea') {
    input = <textarea {...common} rows={5} maxLength={rule.maxLength} onChange={(e) => form.set(name, e.target.value)} />
  } else {
    const numeric = rule.type === 'integer' || kind === 'number'
    input = (
      <input
        {...common}
        type={numeric ? 'text' : kind}
        inputMode={numeric ? 'numeric' : undefined}
        maxLength={!numeric ? rule.maxLength : undefined}
        autoComplete={autoComplete ?? 'off'}
        onChange={(e) => form.set(name, e.target.value)}
      />
    )
  }
  return (
    <div className={`field${err ? ' has-error' : ''}`}>
      <label htmlFor={id}>
        {label}
        {required ? <span aria-hidden="true"> *</span> : null}
      </label>
      {input}
      {hint ? (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
      {err ? (
        <p className="field-error" id={`${id}-err`}>
          {err}
        </p>
      ) : null}
    </div>
  )
}

/** FormStatus is a form's outcome: the problem in words, or what was done. */
export function FormStatus({ form }: { form: SchemaForm }) {
  const ref = useRef<HTMLDivElement>(null)
  return (
    <div ref={ref} aria-live="polite">
      {form.error ? (
        <p className="problem" role="alert">
          {form.error}
        </p>
      ) : null}
      {form.done && !form.error ? <p className="done">{form.done}</p> : null}
    </div>
  )
}

export function Submit({ form, children }: { form: SchemaForm; children: ReactNode }) {
  return (
    <button type="submit" className="primary" disabled={form.busy} aria-busy={form.busy}>
      {form.busy ? 'Working…' : children}
    </button>
  )
}

/** useAction runs a one-click action (approve, reserve…) with its problem shown beside it. */
export function useAction() {
  const qc = useQueryClient()
  const [state, setState] = useState<{ busy: string; error: string; done: string; key: string }>({ busy: '', error: '', done: '', key: '' })
  const run = async (key: string, f: () => Promise<unknown>, done = 'Done.') => {
    setState({ busy: key, error: '', done: '', key })
    try {
      await f()
      setState({ busy: '', error: '', done, key })
      await qc.invalidateQueries()
    } catch (e) {
      setState({ busy: '', error: messageOf(e), done: '', key })
    }
  }
  return { ...state, run }
}

/**
 * ActionStatus shows the outcome of the action `k`, or of the last action
 * when k is not given (put that one outside rows that the action removes).
 */
export function ActionStatus({ action, k }: { action: ReturnType<typeof useAction>; k?: string }) {
  if (k !== undefined && action.key !== k) return null
  if (action.error)
    return (
      <p className="problem" role="alert">
        {action.error}
      </p>
    )
  if (action.done) return <p className="done" role="status">{action.done}</p>
  return null
}
