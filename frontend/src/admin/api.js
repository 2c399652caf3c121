// The admin API client (docs/admin.md): every call carries the bearer token and the
// operator's name, and every failure becomes an AdminApiError whose message is safe to show.
// The credentials live in the tab's sessionStorage, so closing the tab signs the operator out.
import { reactive } from 'vue'

const KEY = 'duet.admin'
const MAX_OPERATOR = 60 // the server's limit on X-Duet-Operator
const NO_ADMIN_API = 'This server has no admin API: start it with admin_token set.'

/** A failed call: status is the HTTP status, or 0 when the server could not be reached. */
export class AdminApiError extends Error {
  constructor(status, message) {
    super(message)
    this.name = 'AdminApiError'
    this.status = status
  }
}

/**
 * @param {object} [o]
 * @param {typeof fetch} [o.fetch]
 * @param {Storage} [o.storage] where the credentials are kept (sessionStorage)
 */
export function createAdminApi(o = {}) {
  const fetchImpl = o.fetch || globalThis.fetch.bind(globalThis)
  const storage = o.storage || globalThis.sessionStorage
  const state = reactive({ ...stored(storage), notice: '' }) // notice: why the operator was signed out

  async function call(method, path, body, credentials = state) {
    const headers = { Authorization: `Bearer ${credentials.token}`, 'X-Duet-Operator': credentials.operator }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    let res
    try {
      res = await fetchImpl(`/admin/api/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    } catch {
      throw new AdminApiError(0, 'The server could not be reached. Check the connection and try again.')
    }
    if (res.status === 204) return null
    const json = (res.headers.get('Content-Type') || '').includes('application/json')
    // The admin API answers JSON only; anything else (a proxy's page, say) is not it.
    if (!json) throw new AdminApiError(res.status, NO_ADMIN_API)
    const answer = await res.json().catch(() => null)
    if (res.ok) return answer
    if (res.status === 401 && credentials === state && state.token) {
      signOut('The admin token is no longer accepted. Sign in again.')
    }
    throw new AdminApiError(res.status, messageOf(res.status, answer))
  }

  /** Checks the token with a harmless call, then keeps the credentials. Resolves with the settings. */
  async function signIn(operator, token) {
    const credentials = { operator: operator.trim(), token: token.trim() }
    if (!credentials.operator || [...credentials.operator].length > MAX_OPERATOR) {
      throw new AdminApiError(400, `Give your name, in 1 to ${MAX_OPERATOR} characters: it goes into the audit log.`)
    }
    // The name travels in an HTTP header, where a browser sends only single bytes, and the
    // server reads UTF-8: plain ASCII is what arrives as written.
    if (!/^[\x20-\x7e]+$/.test(credentials.operator)) {
      throw new AdminApiError(400, 'Write your name in plain ASCII letters, digits and punctuation: it is sent in an HTTP header.')
    }
    if (!credentials.token) throw new AdminApiError(400, 'Give the admin token.')
    let settings
    try {
      settings = await call('GET', 'settings', undefined, credentials)
    } catch (err) {
      if (err.status === 401) throw new AdminApiError(401, 'That admin token is not the right one.')
      // Without admin_token the server has no admin API: its paths are all 404.
      if (err.status === 404) throw new AdminApiError(404, NO_ADMIN_API)
      throw err
    }
    storage.setItem(KEY, JSON.stringify(credentials))
    Object.assign(state, credentials, { notice: '' })
    return settings
  }

  function signOut(notice = '') {
    storage.removeItem(KEY)
    Object.assign(state, { operator: '', token: '', notice })
  }

  return {
    state,
    signIn,
    signOut,
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
    put: (path, body) => call('PUT', path, body),
    delete: (path, body) => call('DELETE', path, body),
  }
}

function stored(storage) {
  try {
    const c = JSON.parse(storage.getItem(KEY))
    if (typeof c?.operator === 'string' && typeof c?.token === 'string') return { operator: c.operator, token: c.token }
  } catch {
    // unreadable: signed out
  }
  return { operator: '', token: '' }
}

function messageOf(status, answer) {
  const said = typeof answer?.error === 'string' && answer.error ? answer.error : ''
  if (said) return capitalize(said.endsWith('.') ? said : `${said}.`)
  return status >= 500 ? `The server failed (HTTP ${status}). Try again.` : `The request was refused (HTTP ${status}).`
}

function capitalize(s) {
  return s.charAt(0).toUpperCase() + s.slice(1)
}

/** Query string of the params that are set. */
export function query(params) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v !== undefined && v !== null))
  return q.size ? `?${q}` : ''
}
