// The public verification pages: no sign-in, readable on a phone.
import { useEffect, type ReactNode } from 'react'
import type { components } from '../../api/schema.gen'
import { date, day, quantity } from '../../lib/format'
import { Check, Status } from '../../components/ui'

export type BatchVerification = components['schemas']['BatchVerification']

export function PublicPage({ title, children }: { title: string; children: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · Greenmint verification`
  }, [title])
  return (
    <div className="public">
      <header className="public-top">
        <span aria-hidden="true">◆</span> Greenmint · public verification
      </header>
      <main id="main">
        <h1>{title}</h1>
        {children}
      </main>
      <footer className="public-foot">
        Checked now by the registry's gateway against the ledger: signatures, hashes, dataset and quantities. No account needed.
      </footer>
    </div>
  )
}

export function Verdict({ ok, what }: { ok: boolean; what: string }) {
  useEffect(() => {
    // When the verdict shows: make bench's web_public_verify_load_ms.
    performance.mark('gm-verdict')
  }, [])
  return (
    <p className={`verdict ${ok ? 'ok' : 'bad'}`} role="status" data-testid="verdict">
      <span aria-hidden="true">{ok ? '✓' : '✗'}</span> {ok ? `This ${what} is genuine: every check holds.` : `This ${what} does not verify: see the failing checks below.`}
    </p>
  )
}

export function BatchCard({ v, heading = 'h2' }: { v: BatchVerification; heading?: 'h2' | 'h3' }) {
  const b = v.batch
  const c = v.checks
  const H = heading
  return (
    <section className="card" aria-label={`Batch ${b.id}`}>
      <H>
        Batch {b.id} <Status value={b.status} />
      </H>
      <dl className="facts">
        <dt>Instrument</dt>
        <dd>{b.instrument}</dd>
        <dt>Site</dt>
        <dd>
          {b.site_id} ({b.country})
        </dd>
        <dt>Period</dt>
        <dd>
          {day(v.period_start)} to {day(v.period_end)}
        </dd>
        <dt>Issued</dt>
        <dd>{quantity(b.issued, b.instrument)}</dd>
        <dt>Retired</dt>
        <dd>{quantity(b.retired, b.instrument)}</dd>
        <dt>Tradable</dt>
        <dd>{quantity(b.tradable, b.instrument)}</dd>
        <dt>Minted</dt>
        <dd>
          block {v.mint.block}, {date(v.mint.timestamp ?? b.minted_at)}
        </dd>
        <dt>Mint transaction</dt>
        <dd className="mono wrap">{v.mint.tx_id}</dd>
      </dl>
      <ul className="checks" aria-label={`Checks of batch ${b.id}`}>
        <Check ok={c.attestation_hash} label="The attestation's hash is its ID" />
        <Check ok={c.signatures_valid} label={`Oracle signatures verify, at least ${c.threshold} signed`} />
        <Check ok={c.dataset_matches} label="The emission-factor dataset is registered with that hash" />
        <Check ok={c.quantities_balance} label="Issued = tradable + escrowed + retired + cancelled" />
        <Check ok={c.quantity_matches} label="The quantity is what the attestation computes" />
      </ul>
      {c.problems?.length ? (
        <ul className="problems">
          {c.problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      ) : null}
    </section>
  )
}
