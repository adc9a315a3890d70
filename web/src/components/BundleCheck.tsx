// Drop a proof bundle (GET /v1/public/…/bundle) to compare it with what the
// gateway verifies on the ledger now. The full offline check, with no
// server, is greenmint verify FILE (docs/verify.md); this page says so.
import { useState } from 'react'
import { api, unwrap } from '../api/client'
import { messageOf } from '../api/problem'

interface Ref {
  tx_id?: string
  block?: number
}
interface BundleBatch {
  id: string
  history?: (Ref & { timestamp?: string })[]
  attestation?: Ref & { value?: { id?: string } }
  readings?: { root?: string }
}
interface Bundle {
  format?: string
  version?: number
  subject?: { kind?: string; id?: string }
  batches?: BundleBatch[]
}

interface Row {
  label: string
  ok: boolean
}

/** compareBatch lists what of a bundle's batch agrees with the gateway's verification of it. */
export function compareBatch(b: BundleBatch, gw: { checks: { verified: boolean }; mint: { tx_id: string }; batch: { attestation_id: string }; readings_root: string }): Row[] {
  const rows: Row[] = [
    { label: 'The gateway verifies the batch on the ledger now', ok: gw.checks.verified },
    { label: "The bundle's mint transaction is the ledger's", ok: b.history?.[0]?.tx_id === gw.mint.tx_id },
    { label: "The bundle's attestation is the batch's", ok: b.attestation?.value?.id === gw.batch.attestation_id },
  ]
  if (b.readings?.root) rows.push({ label: "The bundle's readings make the attested Merkle root", ok: b.readings.root === gw.readings_root })
  return rows
}

export function BundleCheck() {
  const [result, setResult] = useState<{ subject: string; batches: { id: string; rows: Row[] }[] } | null>(null)
  const [error, setError] = useState('')
  const [over, setOver] = useState(false)
  const read = async (file: File | undefined) => {
    setResult(null)
    setError('')
    if (!file) return
    try {
      let bundle: Bundle
      try {
        bundle = JSON.parse(await file.text()) as Bundle
      } catch {
        throw new Error('This file is not a proof bundle: it is not JSON.')
      }
      if (!bundle.batches?.length || !bundle.subject?.id) throw new Error('This file is not a proof bundle: it names no subject or batch.')
      const batches = []
      for (const b of bundle.batches) {
        const gw = await unwrap(api.GET('/public/batches/{id}', { params: { path: { id: b.id } } }))
        batches.push({ id: b.id, rows: compareBatch(b, gw) })
      }
      setResult({ subject: `${bundle.subject.kind ?? 'bundle'} ${bundle.subject.id}`, batches })
    } catch (e) {
      setError(messageOf(e))
    }
  }
  return (
    <div>
      <p className="hint">
        Checked by the gateway: the bundle's batches are compared with what the gateway verifies on the ledger now. For the full check with no server, run{' '}
        <code>greenmint verify FILE</code>.
      </p>
      <div
        className={`drop${over ? ' over' : ''}`}
        onDragOver={(e) => {
          e.preventDefault()
          setOver(true)
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault()
          setOver(false)
          void read(e.dataTransfer.files[0])
        }}
      >
        <label htmlFor="bundle-file">Drop a proof bundle here, or choose the file</label>
        <input id="bundle-file" type="file" accept="application/json,.json" onChange={(e) => void read(e.target.files?.[0])} />
      </div>
      <div aria-live="polite">
        {error ? (
          <p className="problem" role="alert">
            {error}
          </p>
        ) : null}
        {result ? (
          <div>
            <p>
              <strong>{result.subject}</strong>: {result.batches.every((b) => b.rows.every((r) => r.ok)) ? 'every comparison holds.' : 'some comparisons fail.'}
            </p>
            {result.batches.map((b) => (
              <ul key={b.id} className="checks" aria-label={`Bundle batch ${b.id}`}>
                {b.rows.map((r) => (
                  <li key={r.label} className={r.ok ? 'check ok' : 'check bad'}>
                    <span aria-hidden="true">{r.ok ? '✓' : '✗'}</span> {b.id}: {r.label}: <strong>{r.ok ? 'holds' : 'fails'}</strong>
                  </li>
                ))}
              </ul>
            ))}
          </div>
        ) : null}
      </div>
    </div>
  )
}
