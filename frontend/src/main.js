import { createApp, watch } from 'vue'
import App from './App.vue'
import { router } from './router.js'
import { DuetClient } from './protocol/client.js'
import { createChatStore } from './chat/store.js'
import { chime } from './chat/sound.js'
import { preferences } from './preferences.js'
import { loadSettings, site } from './settings.js'
import { createCatalogue, languages, pickLanguage, plainMessage } from './i18n/index.js'
import './styles/main.css'

const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
const client = new DuetClient({ url: `${scheme}//${location.host}/ws`, storage: sessionStorage })
const chat = createChatStore(client, {
  onPartnerMessage: () => preferences.sound && chime(),
})
const i18n = createCatalogue(pickLanguage(preferences.language))
watch(
  () => preferences.language,
  (chosen) => {
    i18n.global.locale.value = pickLanguage(chosen)
    document.documentElement.lang = i18n.global.locale.value
  },
  { immediate: true },
)

// The operator's site name stands in for "Duet" in every language's sentences.
watch(
  () => site.name,
  (name) => {
    if (name) for (const { code } of languages) i18n.global.mergeLocaleMessage(code, { site: { name: plainMessage(name) } })
  },
)
loadSettings()
createApp(App).provide('chat', chat).use(router).use(i18n).mount('#app')
