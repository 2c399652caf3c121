// What a component needs to say things: the catalogue's t, and Intl's times, dates, lists and
// percentages in the visitor's locale.
import { useI18n } from 'vue-i18n'
import { formatDateTime, formatList, formatPercent, formatTime, intlLocale } from './index.js'

export function useWords() {
  const { t, tm, rt, locale } = useI18n()
  const intl = () => intlLocale(locale.value)
  return {
    t,
    tm,
    rt,
    locale,
    /** A catalogue line kept as {key, params}. */
    say: (line) => t(line.key, line.params, line.params?.n ?? 1),
    time: (ms) => formatTime(intl(), ms),
    dateTime: (ms) => formatDateTime(intl(), ms),
    list: (items) => formatList(intl(), items),
    anyOf: (items) => formatList(intl(), items, 'disjunction'),
    percent: (fraction) => formatPercent(intl(), fraction),
  }
}
