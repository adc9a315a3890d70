import { useState } from 'react'
import { useQuery, useQueryClient } from '@tanstack/react-query'
import { api, unwrap } from '../../api/client'
import { messageOf } from '../../api/problem'
import type { components } from '../../api/schema.gen'
import { live } from '../../lib/live'
import { date } from '../../lib/format'
import { Field, FormStatus, Submit, useSchemaForm } from '../../components/form'
import { Loading, Page, Section, Table } from '../../components/ui'

const roles = ['miner', 'oracle', 'auditor', 'buyer'] as const

function Admit({ msp }: { msp: string }) {
  const qc = useQueryClient()
  const [chosen, setChosen] = useState<string[]>([])
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null)
  return (
    <form
      className="compact-form"
      aria-label={`Admit ${msp} to roles`}
      onSubmit={async (e) => {
        e.preventDefault()
        if (!chosen.length) return setMsg({ ok: false, text: 'Choose at least one role.' })
        try {
          await unwrap(api.POST('/organisations/{id}/roles', { params: { path: { id: msp } }, body: { roles: chosen as never } }))
          setMsg({ ok: true, text: 'Admitted.' })
          setChosen([])
          await qc.invalidateQueries()
        } catch (err) {
          setMsg({ ok: false, text: messageOf(err) })
        }
      }}
    >
      <fieldset>
        <legend>Roles to admit</legend>
        {roles.map((r) => (
          <label key={r} className="check-label">
            <input type="checkbox" checked={chosen.includes(r)} onChange={(e) => setChosen(e.target.checked ? [...chosen, r] : chosen.filter((x) => x !== r))} /> {r}
          </label>
        ))}
      </fieldset>
      {msg ? (
        <p className={msg.ok ? 'done' : 'problem'} role={msg.ok ? 'status' : 'alert'}>
          {msg.text}
        </p>
      ) : null}
      <button type="submit" className="primary">
        Admit
      </button>
    </form>
  )
}

function Revoke({ msp }: { msp: string }) {
  const { form, submit } = useSchemaForm<components['schemas']['RevokeRoleBody']>(
    'RevokeRoleBody',
    { role: '', reason: '' },
    (body) => unwrap(api.POST('/organisations/{id}/revocations', { params: { path: { id: msp } }, body })),
    { done: () => 'Role taken back.' },
  )
  return (
    <form onSubmit={submit} noValidate aria-label={`Take a role back from ${msp}`} className="compact-form">
      <Field form={form} name="role" label="Role" />
      <Field form={form} name="reason" label="Reason" />
      <FormStatus form={form} />
      <Submit form={form}>Take back</Submit>
    </form>
  )
}

export default function Organisations() {
  const q = useQuery({ queryKey: ['organisations'], queryFn: () => unwrap(api.GET('/organisations', { params: { query: { limit: 100 } } })), ...live })
  return (
    <Page title="Organisations' roles" lead="A role counts only for an organisation the registry admitted to it (R11).">
      <Section title="Organisations">
        <Loading q={q} empty={(d) => !d.items?.length}>
          {(d) => (
            <Table caption="Organisations and their admitted roles" head={['Organisation', 'Roles', 'Admitted', 'Revocations', 'Change']}>
              {d.items!.map((o) => (
                <tr key={o.msp_id}>
                  <td>{o.msp_id}</td>
                  <td>{(o.roles ?? []).join(', ') || '—'}</td>
                  <td>{date(o.admitted_at)}</td>
                  <td>
                    {(o.revocations ?? []).map((r) => (
                      <div key={r.role + r.revoked_at}>
                        {r.role}: {r.reason} ({date(r.revoked_at)})
                      </div>
                    ))}
                  </td>
                  <td>
                    <div className="actions">
                      <details>
                        <summary>Admit</summary>
                        <Admit msp={o.msp_id} />
                      </details>
                      <details>
                        <summary>Take back</summary>
                        <Revoke msp={o.msp_id} />
                      </details>
                    </div>
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
