// Numbers and dates as people read them. Quantities are integers: Wh,
// gCO2e, prices in minor units.

const nf = new Intl.NumberFormat('en-GB')

export function num(n: number | undefined | null): string {
  return n === undefined || n === null ? '—' : nf.format(n)
}

/** energy formats Wh with the unit that keeps the number short. */
export function energy(wh: number | undefined | null): string {
  if (wh === undefined || wh === null) return '—'
  const a = Math.abs(wh)
  if (a >= 1e9) return `${(wh / 1e9).toFixed(2)} GWh`
  if (a >= 1e6) return `${(wh / 1e6).toFixed(2)} MWh`
  if (a >= 1e3) return `${(wh / 1e3).toFixed(1)} kWh`
  return `${wh} Wh`
}

/** quantity formats a batch quantity of its instrument (CO2E: gCO2e; EAC: Wh). */
export function quantity(q: number | undefined | null, instrument?: string): string {
  if (q === undefined || q === null) return '—'
  if (instrument === 'EAC') return energy(q)
  if (instrument === 'CO2E') {
    if (Math.abs(q) >= 1e6) return `${(q / 1e6).toFixed(3)} tCO2e`
    if (Math.abs(q) >= 1e3) return `${(q / 1e3).toFixed(1)} kgCO2e`
    return `${q} gCO2e`
  }
  return num(q)
}

export function money(minor: number | undefined, currency: string | undefined): string {
  if (minor === undefined || !currency) return '—'
  try {
    return new Intl.NumberFormat('en-GB', { style: 'currency', currency }).format(minor / 100)
  } catch {
    return `${(minor / 100).toFixed(2)} ${currency}`
  }
}

export function date(s: string | undefined | null): string {
  if (!s) return '—'
  const d = new Date(s)
  if (Number.isNaN(d.getTime())) return s
  return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC'
}

export function day(s: string | undefined | null): string {
  if (!s) return '—'
  return s.slice(0, 10)
}

export function percent(x: number | undefined | null): string {
  if (x === undefined || x === null || Number.isNaN(x)) return '—'
  return `${(x * 100).toFixed(1)}%`
}
