import { useEffect } from 'react'
import { useQuery } from '@tanstack/react-query'
import { api, unwrap } from '../../api/client'
import type { components } from '../../api/schema.gen'
import { live } from '../../lib/live'
import { date } from '../../lib/format'
import { Field, FormStatus, Submit, useSchemaForm } from '../../components/form'
import { Loading, Page, Section, Status, Table } from '../../components/ui'

type S = components['schemas']

function Revoke({ id }: { id: string }) {
  const { form, submit } = useSchemaForm<S['RequiredReasonBody']>('RequiredReasonBody', { reason: '' }, (body) => unwrap(api.POST('/oracles/{id}/revoke', { params: { path: { id } }, body })), {
    done: () => 'Oracle key revoked.',
  })
  return (
    <details>
      <summary>Revoke</summary>
      <form onSubmit={submit} noValidate aria-label={`Revoke oracle ${id}`} className="compact-form">
        <Field form={form} name="reason" label="Reason" />
        <FormStatus form={form} />
        <Submit form={form}>Revoke key</Submit>
      </form>
    </details>
  )
}

export default function Oracles() {
  const oracles = useQuery({ queryKey: ['oracles'], queryFn: () => unwrap(api.GET('/oracles')), ...live })
  const policy = useQuery({ queryKey: ['policy'], queryFn: () => unwrap(api.GET('/policy')), ...live })
  const reg = useSchemaForm<S['OracleBody']>('OracleBody', { oracle_id: '', msp_id: '', public_key: '' }, (body) => unwrap(api.POST('/oracles', { body })), { done: () => 'Oracle key registered.' })
  const p = policy.data
  const pol = useSchemaForm<S['PolicyBody']>(
    'PolicyBody',
    { threshold: '', tolerance_bp: '', reservation_ttl_seconds: '' },
    (body) => unwrap(api.PUT('/policy', { body })),
    { done: () => 'Policy set.' },
  )
  const { set } = pol.form
  useEffect(() => {
    if (!p) return
    set('threshold', String(p.threshold))
    set('tolerance_bp', String(p.tolerance_bp))
    set('reservation_ttl_seconds', String(p.reservation_ttl_seconds))
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [p?.updated_at])
  return (
    <Page title="Oracles & policy" lead="The oracle keys whose signatures count, and how many must sign an attestation (the threshold).">
      <Section title="Policy">
        <Loading q={policy}>
          {(p) => (
            <p>
              In force: threshold <strong>{p.threshold}</strong>, tolerance {p.tolerance_bp} bp, reservations last {p.reservation_ttl_seconds} s (set {date(p.updated_at)}).
            </p>
          )}
        </Loading>
        <form onSubmit={pol.submit} noValidate aria-label="Set the policy">
          <div className="grid">
            <Field form={pol.form} name="threshold" label="Threshold (signatures)" />
            <Field form={pol.form} name="tolerance_bp" label="Tolerance (basis points)" />
            <Field form={pol.form} name="reservation_ttl_seconds" label="Reservation period (seconds)" />
          </div>
          <FormStatus form={pol.form} />
          <Submit form={pol.form}>Set policy</Submit>
        </form>
      </Section>
      <Section title="Oracle keys">
        <Loading q={oracles} empty={(d) => !d.items?.length}>
          {(d) => (
            <Table caption="Registered oracle keys" head={['Oracle', 'Organisation', 'Public key', 'Status', 'Registered', 'Action']}>
              {d.items!.map((o) => (
                <tr key={o.id}>
                  <td>{o.id}</td>
                  <td>{o.msp_id}</td>
                  <td className="mono wrap">{o.public_key}</td>
                  <td>
                    <Status value={o.status} />
                  </td>
                  <td>{date(o.registered_at)}</td>
                  <td>{o.status !== 'revoked' ? <Revoke id={o.id} /> : '—'}</td>
                </tr>
              ))}
            </Table>
          )}
        </Loading>
      </Section>
      <Section title="Register an oracle key">
        <form onSubmit={reg.submit} noValidate aria-label="Register an oracle key">
          <div className="grid">
            <Field form={reg.form} name="oracle_id" label="Oracle ID" />
            <Field form={reg.form} name="msp_id" label="Organisation (MSP ID)" />
            <Field form={reg.form} name="public_key" label="Ed25519 public key (base64)" />
          </div>
          <FormStatus form={reg.form} />
          <Submit form={reg.form}>Register key</Submit>
        </form>
      </Section>
    </Page>
  )
}
