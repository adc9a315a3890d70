import { describe, expect, it } from 'vitest'
import { ApiError, fieldOf, messageOf, summary } from './problem'

describe('problems in plain words', () => {
  it('leads with what kind of failure, then the gateway detail', () => {
    expect(summary(409, { code: 'conflict', detail: 'batch B-1 is frozen by an open flag' })).toBe(
      'This cannot be done right now. Batch B-1 is frozen by an open flag.',
    )
  })
  it('never shows an internal detail, but the request ID', () => {
    expect(summary(500, { code: 'internal', detail: 'sql: connection refused', request_id: 'r-9' })).toBe('Something went wrong on our side. (request r-9)')
  })
  it('maps a status to a code when the body has none', () => {
    expect(summary(429, {})).toMatch(/busy/)
    expect(summary(403, { detail: '' })).toBe('You are not allowed to do this.')
  })
  it('puts field errors on form paths', () => {
    const e = new ApiError(400, {
      code: 'invalid',
      detail: 'validation failed',
      errors: [
        { location: 'body.country', message: 'expected length <= 2' },
        { location: 'body.fleet.hashrate_ths', message: 'expected integer' },
        { location: 'body.parts[1].quantity', message: 'exceeds tradable' },
      ],
    })
    expect(e.fieldErrors()).toEqual({
      country: 'Expected length <= 2.',
      'fleet.hashrate_ths': 'Expected integer.',
      'parts[1].quantity': 'Exceeds tradable.',
    })
    expect(fieldOf('query.vintage')).toBe('vintage')
  })
  it('says when the registry cannot be reached', () => {
    expect(messageOf(new TypeError('Failed to fetch'))).toMatch(/cannot be reached/)
  })
})
