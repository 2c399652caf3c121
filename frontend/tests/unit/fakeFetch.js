// A stand-in for fetch in tests of the admin page: it answers "METHOD path" from a table the
// test writes, as the admin API would, and records every request.
import { vi } from 'vitest'

/** An answer as the server gives it: JSON with a status, 204 without a body, or the page's HTML. */
export const json = (status, body) => ({ status, body, type: 'application/json; charset=UTF-8' })
export const noContent = () => ({ status: 204, type: '' })
export const html = () => ({ status: 200, body: '<!doctype html>', type: 'text/html; charset=utf-8' })

/**
 * @param {Record<string, object | ((request: object) => object | Promise<object>)>} answers by "GET /admin/api/stats"
 */
export function fakeFetch(answers) {
  const f = vi.fn(async (url, init = {}) => {
    const method = init.method || 'GET'
    const request = { method, url, headers: init.headers || {}, body: init.body ? JSON.parse(init.body) : undefined }
    f.requests.push(request)
    let a = answers[`${method} ${url}`]
    if (typeof a === 'function') a = await a(request)
    if (!a) a = json(404, { error: 'no such admin endpoint' })
    if (a instanceof Error) throw a
    return {
      status: a.status,
      ok: a.status >= 200 && a.status < 300,
      headers: new Headers(a.type ? { 'Content-Type': a.type } : {}),
      json: async () => (typeof a.body === 'string' ? JSON.parse(a.body) : a.body),
    }
  })
  f.requests = []
  return f
}
