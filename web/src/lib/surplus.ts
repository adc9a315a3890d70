// The marketplace's grid surplus share filter: people type a percentage,
// the gateway takes basis points (GET /v1/listings min_surplus_share,
// 0 to 10000; 2500 = 25%).

/** surplusShareBP reads a percentage (at most two decimals, 0 to 100) as basis points; '' is no filter. */
export function surplusShareBP(percent: string): { bp?: number; error?: string } {
  const s = percent.trim().replace(/\s*%$/, '').replace(',', '.')
  if (s === '') return {}
  const m = /^(?=\.?\d)(\d{0,3})(?:\.(\d{0,2}))?$/.exec(s)
  if (!m) return { error: 'Enter a percentage from 0 to 100, at most two decimals, e.g. 25 or 12.5.' }
  const bp = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'))
  if (bp > 10000) return { error: 'A share is at most 100%.' }
  return { bp }
}
