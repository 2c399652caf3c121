// How many people are on Duet, from the server's /online.json, read while a view that shows it
// is on screen. A failed read hides the figure rather than showing a stale or wrong one.
import { onBeforeUnmount, onMounted, ref } from 'vue'

/** How often the figure is read again while shown; the server caches it for a few seconds. */
export const ONLINE_POLL_MS = 15000
/** How often while the visitor searches, so that the figure moves while they wait. */
export const SEARCHING_POLL_MS = 4000

/**
 * @param {object} [o]
 * @param {typeof fetch} [o.fetch]
 * @param {number} [o.everyMs]
 * @returns {import('vue').Ref<{online: number, waiting: number} | null>}
 */
export function useOnlineCount(o = {}) {
  const fetchImpl = o.fetch || ((url) => globalThis.fetch(url))
  const count = ref(null)
  let timer = null

  async function read() {
    try {
      const res = await fetchImpl('/online.json')
      const got = res.ok ? await res.json() : null
      count.value = Number.isSafeInteger(got?.online) && Number.isSafeInteger(got?.waiting) ? { online: got.online, waiting: got.waiting } : null
    } catch {
      count.value = null
    }
  }

  onMounted(() => {
    read()
    timer = setInterval(read, o.everyMs ?? ONLINE_POLL_MS)
  })
  onBeforeUnmount(() => clearInterval(timer))
  return count
}
