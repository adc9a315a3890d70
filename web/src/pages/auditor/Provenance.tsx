import type { ReactNode } from 'react'
import { useParams } from 'react-router'
import { useQuery } from '@tanstack/react-query'
import { api, unwrap } from '../../api/client'
import type { components } from '../../api/schema.gen'
import { useMe } from '../../auth'
import { has, live } from '../../lib/live'
import { date, day, energy, num, quantity } from '../../lib/format'
import { Field, FormStatus, Submit, useSchemaForm } from '../../components/form'
import { Coming, Loading, Page, Section, Status } from '../../components/ui'
import { ResolveForm } from '../registry/ResolveForm'
import { BundleCheck } from '../../components/BundleCheck'

function Step({ title, ok, children }: { title: string; ok?: boolean; children: ReactNode }) {
  return (
    <li className="step">
      <h3>
        {ok === undefined ? null : (
          <span className={`badge ${ok ? 'ok' : 'bad'}`}>{ok ? '✓ check holds' : '✗ check fails'}</span>
        )}{' '}
        {title}
      </h3>
      {children}
    </li>
  )
}

export default function Provenance() {
  const { id = '' } = useParams()
  const me = useMe()
  const q = useQuery({ queryKey: ['provenance', id], queryFn: () => unwrap(api.GET('/batches/{id}/provenance', { params: { path: { id } } })), ...live })
  const flag = useSchemaForm<components['schemas']['FlagBody']>('FlagBody', { reason: '' }, (body) => unwrap(api.POST('/batches/{id}/flags', { params: { path: { id } }, body })), {
    done: () => 'Flag opened: the batch is frozen until the registry resolves it.',
  })
  return (
    <Page title={`Provenance of ${id}`}>
      <Loading q={q}>
        {(p) => {
          const a = p.attestation.attestation.attestation
          const c = p.checks
          return (
            <>
              <p className={`verdict ${c.verified ? 'ok' : 'bad'}`} role="status">
                {c.verified ? '✓ Every check holds.' : '✗ Some checks fail: see below.'} Batch <Status value={p.batch.status} />, owner {p.batch.owner}
                {p.batch.open_flags ? `, ${p.batch.open_flags} open flag(s): frozen` : ''}.
              </p>
              <ol className="timeline" aria-label="Provenance timeline">
                <Step title="Meter readings">
                  <p>
                    {day(p.period_start)} to {day(p.period_end)} at site {p.batch.site_id}: {energy(p.matched_wh)} matched.
                  </p>
                  <p>
                    Readings' Merkle root <span className="mono wrap">{p.readings_root}</span>
                  </p>
                  <p>Consumption meters: {(a.consumption_meters ?? []).join(', ') || '—'}</p>
                </Step>
                <Step title="Attestation and oracle signatures" ok={c.attestation_hash && c.signatures_valid}>
                  <p>
                    Attestation <span className="mono wrap">{p.attestation.id}</span>, attested {date(a.attested_at)}; its hash is its ID:{' '}
                    <strong>{c.attestation_hash ? 'yes' : 'no'}</strong>.
                  </p>
                  <ul>
                    {(c.signatures ?? []).map((s) => (
                      <li key={s.oracle_id}>
                        Oracle {s.oracle_id} ({s.status}): signature <strong>{s.valid ? 'verifies' : 'does not verify'}</strong>
                      </li>
                    ))}
                  </ul>
                  <p>Threshold: {c.threshold} signatures.</p>
                </Step>
                <Step title="Emission-factor dataset" ok={c.dataset_matches}>
                  <p>
                    {p.batch.dataset.id} version {p.batch.dataset.version}, SHA-256 <span className="mono wrap">{p.batch.dataset.sha256}</span>
                  </p>
                </Step>
                <Step title="Mint" ok={c.quantity_matches}>
                  <p>
                    {quantity(p.batch.issued, p.batch.instrument)} issued in block {p.mint.block} ({date(p.mint.timestamp ?? p.batch.minted_at)}), transaction{' '}
                    <span className="mono wrap">{p.mint.tx_id}</span>.
                  </p>
                </Step>
                <Step title="Changes" ok={c.quantities_balance}>
                  <ol>
                    {(p.history ?? []).map((h) => (
                      <li key={h.tx_id + h.block}>
                        Block {h.block}, {date(h.timestamp)}: transaction <span className="mono">{h.tx_id.slice(0, 16)}…</span>
                      </li>
                    ))}
                  </ol>
                  <p>
                    Issued {num(p.batch.issued)} = tradable {num(p.batch.tradable)} + escrowed {num(p.batch.escrowed)} + retired {num(p.batch.retired)} + cancelled{' '}
                    {num(p.batch.cancelled)}.
                  </p>
                </Step>
                <Step title="Holdings and listings">
                  <ul>
                    {(p.holdings ?? []).map((h) => (
                      <li key={h.owner}>
                        {h.owner}: {num(h.tradable)} tradable, {num(h.escrowed)} escrowed
                      </li>
                    ))}
                    {(p.listings ?? []).map((l) => (
                      <li key={l.id}>
                        Listing {l.id} by {l.seller}: {num(l.quantity)} <Status value={l.status} /> {l.buyer ? `to ${l.buyer}` : ''}
                      </li>
                    ))}
                  </ul>
                </Step>
                <Step title="Retirements">
                  <p>{quantity(p.batch.retired, p.batch.instrument)} retired.</p>
                </Step>
                <Step title="Flags">
                  {(p.flags ?? []).length === 0 ? <p>None.</p> : null}
                  <ul>
                    {(p.flags ?? []).map((f) => (
                      <li key={f.id}>
                        {date(f.opened_at)} by {f.auditor}: “{f.reason}” <Status value={f.status} />
                        {f.resolution ? ` — ${f.resolution}` : ''}
                        {me.data?.role === 'registry' && f.status === 'open' ? <ResolveForm batchId={p.batch.id} flagId={f.id} /> : null}
                      </li>
                    ))}
                  </ul>
                </Step>
              </ol>
              {c.problems?.length ? (
                <ul className="problems">
                  {c.problems.map((x) => (
                    <li key={x}>{x}</li>
                  ))}
                </ul>
              ) : null}
            </>
          )
        }}
      </Loading>
      {me.data?.role === 'auditor' ? (
        <Section title="Flag this batch">
          <form onSubmit={flag.submit} noValidate aria-label="Flag this batch">
            <Field form={flag.form} name="reason" label="Reason" type="textarea" hint="What the inquiry is about. The batch's units freeze until the registry resolves it." />
            <FormStatus form={flag.form} />
            <Submit form={flag.form}>Open inquiry</Submit>
          </form>
        </Section>
      ) : null}
      <Section title="Proof bundle">
        {has('GET /public/batches/{id}/bundle') ? (
          <>
            <p>
              <a href={`/v1/public/batches/${encodeURIComponent(id)}/bundle`} download={`${id}.bundle.json`}>
                Download this batch's proof bundle
              </a>
            </p>
            <BundleCheck />
          </>
        ) : (
          <Coming>Proof bundles arrive with the gateway's next release.</Coming>
        )}
      </Section>
    </Page>
  )
}
