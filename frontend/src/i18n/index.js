// The page's words: one catalogue per language (en.js is the reference), vue-i18n to look
// them up, Intl for plurals, times, dates and lists. The language is the visitor's choice in
// the header, else the first of the browser's languages we have, else English.
import { createI18n } from 'vue-i18n'
import en from './en.js'
import de from './de.js'

/** The languages offered, each named in itself. */
export const languages = Object.freeze([
  { code: 'en', name: 'English' },
  { code: 'de', name: 'Deutsch' },
])

const codes = languages.map((l) => l.code)

/** The language for a stored choice and the browser's list. */
export function pickLanguage(chosen, browser = globalThis.navigator?.languages || []) {
  if (codes.includes(chosen)) return chosen
  for (const tag of browser) {
    const code = String(tag).toLowerCase().split('-')[0]
    if (codes.includes(code)) return code
  }
  return 'en'
}

// The catalogue's plural forms are written in the order of CLDR's categories; Intl says which
// category a number falls in.
const categoryOrder = ['zero', 'one', 'two', 'few', 'many', 'other']
function pluralRule(locale) {
  const rules = new Intl.PluralRules(locale)
  const forms = categoryOrder.filter((c) => rules.resolvedOptions().pluralCategories.includes(c))
  return (n, choices) => Math.min(forms.indexOf(rules.select(n)), choices - 1)
}

export function createCatalogue(locale) {
  return createI18n({
    legacy: false,
    locale,
    fallbackLocale: 'en',
    messages: { en, de },
    pluralRules: Object.fromEntries(codes.map((c) => [c, pluralRule(c)])),
    missingWarn: false,
    fallbackWarn: false,
  })
}

/**
 * The locale for Intl: the browser's own when it is a variant of the page's language (en-GB
 * keeps its 24-hour clock), else the page's language.
 */
export function intlLocale(language, browser = globalThis.navigator?.language || '') {
  return browser.toLowerCase().split('-')[0] === language ? browser : language
}

/** "8:05 PM", "20:05": hours without a leading zero, in the visitor's locale. */
export function formatTime(locale, ms) {
  return new Intl.DateTimeFormat(locale, { hour: 'numeric', minute: '2-digit' }).format(ms)
}

/** A date and time in full, for a ban's end and a saved chat. */
export function formatDateTime(locale, ms) {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(ms)
}

/** A share from 0 to 1 as a whole percentage: "60%", "60 %". */
export function formatPercent(locale, fraction) {
  return new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 0 }).format(fraction)
}

/** "chess, films and music", or with type 'disjunction' "chess, films or music". */
export function formatList(locale, items, type = 'conjunction') {
  return new Intl.ListFormat(locale, { style: 'long', type }).format(items)
}

/** text as a catalogue message that says it as written: the message syntax's { } @ | are quoted. */
export function plainMessage(text) {
  return text.replace(/[{}@|]/g, (c) => `{'${c}'}`)
}
