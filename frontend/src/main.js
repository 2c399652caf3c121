import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router.js'
import { DuetClient } from './protocol/client.js'
import { createChatStore } from './chat/store.js'
import { chime } from './chat/sound.js'
import { preferences } from './preferences.js'
import { loadSettings } from './settings.js'
import './styles/main.css'

const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
const client = new DuetClient({ url: `${scheme}//${location.host}/ws`, storage: sessionStorage })
const chat = createChatStore(client, {
  onPartnerMessage: () => preferences.sound && chime(),
})

loadSettings()
createApp(App).provide('chat', chat).use(router).mount('#app')
