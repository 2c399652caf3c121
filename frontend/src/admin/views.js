// Every screen of the admin page, in one module so that they load together, in one chunk the
// chat page never downloads.
export { default as AdminView } from './views/AdminView.vue'
export { default as OverviewView } from './views/OverviewView.vue'
export { default as QueueView } from './views/QueueView.vue'
export { default as SessionsView } from './views/SessionsView.vue'
export { default as SessionView } from './views/SessionView.vue'
export { default as AccountsView } from './views/AccountsView.vue'
export { default as AccountView } from './views/AccountView.vue'
export { default as ReportsView } from './views/ReportsView.vue'
export { default as ReportView } from './views/ReportView.vue'
export { default as BansView } from './views/BansView.vue'
export { default as BroadcastView } from './views/BroadcastView.vue'
export { default as AuditView } from './views/AuditView.vue'
