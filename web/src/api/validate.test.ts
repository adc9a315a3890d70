import { describe, expect, it } from 'vitest'
import { buildBody, checkField } from './validate'

const site = {
  site_id: 'SITE0900',
  name: 'Tabernas 2',
  country: 'ES',
  grid_region: 'ES',
  latitude_microdeg: '37050000',
  longitude_microdeg: '-2390000',
  capacity_w: '2000000',
  'fleet.hashrate_ths': '40000',
  'fleet.efficiency_mj_per_th': '17500',
}

describe('forms validate as the schema in docs/openapi.json', () => {
  it('builds the JSON body of a valid site, integers as numbers, the fleet nested', () => {
    const { body, errors } = buildBody('SiteBody', site)
    expect(errors).toEqual({})
    expect(body).toEqual({
      site_id: 'SITE0900',
      name: 'Tabernas 2',
      country: 'ES',
      grid_region: 'ES',
      latitude_microdeg: 37050000,
      longitude_microdeg: -2390000,
      capacity_w: 2000000,
      fleet: { hashrate_ths: 40000, efficiency_mj_per_th: 17500 },
    })
  })
  it('names every field that breaks a limit', () => {
    const { body, errors } = buildBody('SiteBody', { ...site, country: 'ESP', latitude_microdeg: '95000000', capacity_w: '0', name: '', 'fleet.hashrate_ths': '4.5' })
    expect(body).toBeUndefined()
    expect(errors).toEqual({
      country: 'Enter exactly 2 characters.',
      latitude_microdeg: 'Enter at most 90000000.',
      capacity_w: 'Enter at least 1.',
      name: 'This is required.',
      'fleet.hashrate_ths': 'Enter a whole number.',
    })
  })
  it('checks enums and lengths of a meter', () => {
    const { errors } = buildBody('MeterBody', { meter_id: 'M1', site_id: 'S1', kind: 'solar', capacity_w: '1', interval_minutes: '7', public_key: 'abc' })
    expect(errors.kind).toBe('Choose one of consumption, generation.')
    expect(errors.interval_minutes).toBe('Choose one of 5, 15, 30, 60.')
    expect(errors.public_key).toBe('Enter exactly 44 characters.')
  })
  it('leaves out empty optional fields', () => {
    const { body } = buildBody('PolicyBody', { threshold: '2', tolerance_bp: '50', reservation_ttl_seconds: '' })
    expect(body).toEqual({ threshold: 2, tolerance_bp: 50 })
  })
  it('sends no optional nested object the form does not have', () => {
    const { body } = buildBody('AttestBody', { site_id: 'S1', from: '2023-06-01T00:00:00Z', to: '2023-06-02T00:00:00Z', instrument: 'CO2E' })
    expect(body).toEqual({ site_id: 'S1', from: '2023-06-01T00:00:00Z', to: '2023-06-02T00:00:00Z', instrument: 'CO2E' })
  })
  it('counts characters, not bytes', () => {
    expect(checkField({ type: 'string', maxLength: 2 }, 'ÉS', true)).toBe('')
  })
})
