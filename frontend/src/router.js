// The page's views by path. The server answers every path that is not a file with
// index.html, so a view added here needs no server change; views other than the chat are
// loaded on demand, in their own chunk.
import { createRouter, createWebHistory } from 'vue-router'
import ChatView from './views/ChatView.vue'

const admin = (name) => () => import('./admin/views.js').then((m) => m[name])

export const routes = [
  { path: '/', name: 'chat', component: ChatView },
  {
    path: '/admin',
    component: admin('AdminView'),
    meta: { admin: true, title: 'Duet admin' },
    children: [
      { path: '', component: admin('OverviewView') },
      { path: 'queue', component: admin('QueueView') },
      { path: 'sessions', component: admin('SessionsView') },
      { path: 'sessions/:id(\\d+)', component: admin('SessionView') },
      { path: 'accounts', component: admin('AccountsView') },
      { path: 'accounts/:id(\\d+)', component: admin('AccountView') },
      { path: 'reports', component: admin('ReportsView') },
      { path: 'reports/:id(\\d+)', component: admin('ReportView') },
      { path: 'bans', component: admin('BansView') },
      { path: 'broadcast', component: admin('BroadcastView') },
      { path: 'audit', component: admin('AuditView') },
    ],
  },
  { path: '/:unknown(.*)*', name: 'not-found', component: () => import('./views/NotFoundView.vue') },
]

export const router = createRouter({ history: createWebHistory(), routes })
