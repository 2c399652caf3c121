// useRequest: the state of one admin API read for a view, loaded when the view shows, again
// when what it depends on changes, and every few seconds for live figures.
import { onBeforeUnmount, onMounted, ref, watch } from 'vue'

/** How often the live figures (stats, queue) are read again while shown. */
export const LIVE_REFRESH_MS = 3000

/**
 * @param {() => Promise<any>} fetcher
 * @param {object} [o]
 * @param {number} [o.everyMs] reload this often while the view shows
 * @param {() => any} [o.watch] reload when this changes (a route parameter, say)
 */
export function useRequest(fetcher, o = {}) {
  const data = ref(null)
  const error = ref('')
  let timer = null
  let latest = 0

  async function load() {
    const mine = ++latest
    try {
      const answer = await fetcher()
      if (mine !== latest) return // a newer load answers for the view
      data.value = answer
      error.value = ''
    } catch (err) {
      if (mine === latest) error.value = err.message
    }
  }

  if (o.watch) {
    watch(o.watch, () => {
      data.value = null
      load()
    })
  }
  onMounted(() => {
    load()
    if (o.everyMs) timer = setInterval(load, o.everyMs)
  })
  onBeforeUnmount(() => clearInterval(timer))

  /** Shows what a change answered, in place of any read still under way (it may predate the change). */
  function show(answer) {
    latest++
    data.value = answer
    error.value = ''
  }
  return { data, error, load, show }
}

/**
 * useAction: the state of a change the operator asks for: busy while it runs, and the
 * sentence saying why it failed. run(act) calls act, a function returning a Promise.
 */
export function useAction() {
  const busy = ref(false)
  const problem = ref('')

  async function run(act) {
    busy.value = true
    problem.value = ''
    try {
      await act()
    } catch (err) {
      problem.value = err.message
    } finally {
      busy.value = false
    }
  }
  return { busy, problem, run }
}
