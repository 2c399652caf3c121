// The visitor's choices that outlive the tab (localStorage): colour theme, sound and language
// (null: the browser's).
import { reactive, watch } from 'vue'

const KEY = 'duet.preferences'
const themes = ['system', 'light', 'dark']

function load() {
  try {
    const p = JSON.parse(localStorage.getItem(KEY)) || {}
    return {
      theme: themes.includes(p.theme) ? p.theme : 'system',
      sound: p.sound === true,
      language: typeof p.language === 'string' ? p.language : null,
    }
  } catch {
    return { theme: 'system', sound: false, language: null }
  }
}

export const preferences = reactive(load())

watch(
  preferences,
  (p) => {
    localStorage.setItem(KEY, JSON.stringify(p))
    document.documentElement.dataset.theme = p.theme
  },
  { immediate: true },
)

/** The theme after the current one: system → light → dark → system. */
export function nextTheme(theme) {
  return themes[(themes.indexOf(theme) + 1) % themes.length]
}
