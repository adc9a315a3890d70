import { describe, expect, it } from 'vitest'
import { surplusShareBP } from './surplus'

describe('grid surplus share filter', () => {
  it('reads a percentage as basis points, exactly', () => {
    expect(surplusShareBP('25')).toEqual({ bp: 2500 })
    expect(surplusShareBP('12.5')).toEqual({ bp: 1250 })
    expect(surplusShareBP('0.01')).toEqual({ bp: 1 })
    expect(surplusShareBP('33.33')).toEqual({ bp: 3333 })
    expect(surplusShareBP('100')).toEqual({ bp: 10000 })
    expect(surplusShareBP('0')).toEqual({ bp: 0 })
    expect(surplusShareBP(' 40 % ')).toEqual({ bp: 4000 })
    expect(surplusShareBP('7,5')).toEqual({ bp: 750 })
    expect(surplusShareBP('8.')).toEqual({ bp: 800 })
    expect(surplusShareBP('.5')).toEqual({ bp: 50 })
  })
  it('is no filter when empty', () => {
    expect(surplusShareBP('')).toEqual({})
    expect(surplusShareBP('  ')).toEqual({})
  })
  it('refuses what the gateway would', () => {
    for (const bad of ['100.01', '101', '-5', '0.001', 'abc', '1e2', '.', '1000']) {
      expect(surplusShareBP(bad).error, bad).toBeTruthy()
      expect(surplusShareBP(bad).bp, bad).toBeUndefined()
    }
  })
})
