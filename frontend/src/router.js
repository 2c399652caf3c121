// The page's views by path. The server answers every path that is not a file with
// index.html, so a view added here (an /admin for the operator, say) needs no server change;
// views other than the chat are loaded on demand, in their own chunk.
import { createRouter, createWebHistory } from 'vue-router'
import ChatView from './views/ChatView.vue'

export const routes = [
  { path: '/', name: 'chat', component: ChatView },
  { path: '/:unknown(.*)*', name: 'not-found', component: () => import('./views/NotFoundView.vue') },
]

export const router = createRouter({ history: createWebHistory(), routes })
