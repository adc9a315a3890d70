import { Link } from 'react-router'
import { useQuery } from '@tanstack/react-query'
import { api, unwrap } from '../../api/client'
import { has, live } from '../../lib/live'
import { date, quantity } from '../../lib/format'
import { Coming, Loading, Page, Section, Table } from '../../components/ui'

export default function Statements() {
  const q = useQuery({ queryKey: ['retirements'], queryFn: () => unwrap(api.GET('/retirements', { params: { query: { limit: 100 } } })), ...live })
  const pdf = has('GET /public/retirements/{id}/statement.pdf')
  return (
    <Page title="Retirement statements" lead="Each statement is public: its verification page (and the QR code on its PDF) shows anyone that it is real.">
      {!pdf ? <Coming>Statement PDFs with a QR code arrive with the gateway's next release; each statement's public page works now.</Coming> : <p className="hint">Each PDF carries a QR code of the statement's public page.</p>}
      <Section title="Your statements">
        <Loading q={q} empty={(d) => !d.items?.length}>
          {(d) => (
            <Table caption="Your retirement statements" head={['Statement', 'Beneficiary', 'Purpose', 'Year', 'Parts', 'Retired', 'Verify', ...(pdf ? ['PDF'] : [])]}>
              {d.items!.map((s) => (
                <tr key={s.id}>
                  <td className="mono">{s.id}</td>
                  <td>{s.beneficiary}</td>
                  <td>{s.purpose}</td>
                  <td>{s.reporting_year}</td>
                  <td>
                    {(s.parts ?? []).map((p) => (
                      <div key={p.batch_id}>
                        {quantity(p.quantity, p.instrument)} of {p.batch_id}
                      </div>
                    ))}
                  </td>
                  <td>{date(s.retired_at)}</td>
                  <td>
                    <Link to={`/verify/retirements/${encodeURIComponent(s.id)}`}>public page</Link>
                  </td>
                  {pdf ? (
                    <td>
                      <a href={`/v1/public/retirements/${encodeURIComponent(s.id)}/statement.pdf`} download={`${s.id}.pdf`}>
                        PDF <span className="sr-only">of statement {s.id}</span>
                      </a>
                    </td>
                  ) : null}
                </tr>
              ))}
            </Table>
          )}
        </Loading>
      </Section>
    </Page>
  )
}
