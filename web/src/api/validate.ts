// Form validation from the request bodies' schemas in docs/openapi.json
// (rules.gen.ts): the same limits the gateway checks, in plain words.
import { bodyRules } from './rules.gen'

export type BodyName = keyof typeof bodyRules

interface FieldRule {
  type?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  enum?: readonly (string | number)[]
  pattern?: string
  format?: string
}

interface BodyRule {
  required: readonly string[]
  fields: Record<string, FieldRule>
}

export type FormValues = Record<string, string>
export type FieldErrors = Record<string, string>

function ruleOf(name: string): BodyRule | undefined {
  return (bodyRules as unknown as Record<string, BodyRule>)[name]
}

/** checkField returns what is wrong with one field's text, or ''. */
export function checkField(rule: FieldRule, text: string, required: boolean): string {
  const v = text.trim()
  if (v === '') return required ? 'This is required.' : ''
  if (rule.type === 'integer') {
    if (!/^-?\d+$/.test(v)) return 'Enter a whole number.'
    const n = Number(v)
    if (!Number.isSafeInteger(n)) return 'This number is too large.'
    if (rule.minimum !== undefined && n < rule.minimum) return `Enter at least ${rule.minimum}.`
    if (rule.maximum !== undefined && n > rule.maximum) return `Enter at most ${rule.maximum}.`
    if (rule.enum && !rule.enum.includes(n)) return `Choose one of ${rule.enum.join(', ')}.`
    return ''
  }
  if (rule.type === 'number') {
    if (Number.isNaN(Number(v))) return 'Enter a number.'
    return ''
  }
  const len = [...v].length
  if (rule.minLength !== undefined && len < rule.minLength)
    return rule.minLength === rule.maxLength ? `Enter exactly ${rule.minLength} characters.` : `Enter at least ${rule.minLength} characters.`
  if (rule.maxLength !== undefined && len > rule.maxLength)
    return rule.minLength === rule.maxLength ? `Enter exactly ${rule.maxLength} characters.` : `Enter at most ${rule.maxLength} characters.`
  if (rule.enum && !rule.enum.includes(v)) return `Choose one of ${rule.enum.join(', ')}.`
  if (rule.pattern && !new RegExp(rule.pattern).test(v)) return 'This is not in the expected form.'
  if (rule.format === 'date-time' && Number.isNaN(Date.parse(v))) return 'Enter a date and time.'
  return ''
}

/**
 * buildBody checks form values against body schema `name` and returns the
 * JSON body (integers as numbers, empty optional fields left out) or the
 * errors by field path. Nested objects use "parent.child" paths.
 */
export function buildBody<T = Record<string, unknown>>(name: BodyName | string, values: FormValues): { body?: T; errors: FieldErrors } {
  const errors: FieldErrors = {}
  const body = build(name, '', values, errors)
  return Object.keys(errors).length ? { errors } : { body: body as T, errors }
}

function build(name: string, prefix: string, values: FormValues, errors: FieldErrors): Record<string, unknown> {
  const rule = ruleOf(name)
  if (!rule) throw new Error(`no schema ${name}`)
  const out: Record<string, unknown> = {}
  for (const [field, fr] of Object.entries(rule.fields)) {
    const path = prefix + field
    if (fr.type === 'object') {
      // A nested object (SiteBody.fleet) is sent when the form has its fields.
      if (ruleOf(`${name}.${field}`) && Object.keys(values).some((k) => k.startsWith(path + '.')))
        out[field] = build(`${name}.${field}`, path + '.', values, errors)
      continue
    }
    if (!(path in values)) continue
    const text = values[path] ?? ''
    const err = checkField(fr, text, rule.required.includes(field))
    if (err) {
      errors[path] = err
      continue
    }
    const v = text.trim()
    if (v === '') continue
    out[field] = fr.type === 'integer' || fr.type === 'number' ? Number(v) : v
  }
  return out
}

/** fieldRule is the schema of one form field, for input attributes. */
export function fieldRule(name: string, path: string): { rule: FieldRule; required: boolean } {
  const parts = path.split('.')
  const field = parts.pop() as string
  const key = [name, ...parts].join('.')
  const rule = ruleOf(key)
  return { rule: rule?.fields[field] ?? {}, required: rule?.required.includes(field) ?? false }
}

export function enumOf(name: string, path: string): string[] {
  return (fieldRule(name, path).rule.enum ?? []).map(String)
}
