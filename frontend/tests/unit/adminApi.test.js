import { describe, expect, test } from 'vitest'
import { AdminApiError, createAdminApi, query } from '../../src/admin/api.js'
import { fakeFetch, html, json, noContent } from './fakeFetch.js'
import { memoryStorage } from './storage.js'

const TOKEN = 'a-long-admin-token-for-tests'
const signedIn = () => memoryStorage({ 'duet.admin': JSON.stringify({ operator: 'ann', token: TOKEN }) })

async function failure(promise) {
  const err = await promise.then(
    () => null,
    (e) => e,
  )
  expect(err).toBeInstanceOf(AdminApiError)
  return err
}

describe('signing in', () => {
  test('a token the server accepts is kept in the tab, with the operator', async () => {
    const storage = memoryStorage()
    const fetch = fakeFetch({ 'GET /admin/api/settings': json(200, { matchingPaused: true }) })
    const api = createAdminApi({ fetch, storage })
    expect(await api.signIn(' ann ', ` ${TOKEN} `)).toEqual({ matchingPaused: true })
    expect(fetch.requests[0].headers).toMatchObject({ Authorization: `Bearer ${TOKEN}`, 'X-Duet-Operator': 'ann' })
    expect(api.state).toMatchObject({ operator: 'ann', token: TOKEN })
    expect(createAdminApi({ fetch, storage }).state).toMatchObject({ operator: 'ann', token: TOKEN })
  })

  test('a wrong token is refused in words, and nothing is kept', async () => {
    const storage = memoryStorage()
    const fetch = fakeFetch({ 'GET /admin/api/settings': json(401, { error: 'a valid admin token is required' }) })
    const api = createAdminApi({ fetch, storage })
    const err = await failure(api.signIn('ann', 'wrong-token'))
    expect(err.message).toBe('That admin token is not the right one.')
    expect(api.state.token).toBe('')
    expect(storage.getItem('duet.admin')).toBeNull()
  })

  for (const [name, operator, token, want] of [
    ['no name', '  ', TOKEN, /Give your name/],
    ['a name too long', 'x'.repeat(61), TOKEN, /1 to 60 characters/],
    ['a name a header cannot carry', 'Łukasz', TOKEN, /plain ASCII/],
    ['no token', 'ann', ' ', /Give the admin token/],
  ]) {
    test(`${name} is refused before anything is sent`, async () => {
      const fetch = fakeFetch({})
      const err = await failure(createAdminApi({ fetch, storage: memoryStorage() }).signIn(operator, token))
      expect(err.message).toMatch(want)
      expect(fetch).not.toHaveBeenCalled()
    })
  }

  test('a server without the admin API says so', async () => {
    const fetch = fakeFetch({ 'GET /admin/api/settings': json(404, { error: 'Not Found' }) })
    const err = await failure(createAdminApi({ fetch, storage: memoryStorage() }).signIn('ann', TOKEN))
    expect(err.message).toBe('This server has no admin API: start it with admin_token set.')
  })

  test('an answer that is not the API\'s JSON says so', async () => {
    const fetch = fakeFetch({ 'GET /admin/api/settings': html() })
    const err = await failure(createAdminApi({ fetch, storage: memoryStorage() }).signIn('ann', TOKEN))
    expect(err.message).toBe('This server has no admin API: start it with admin_token set.')
  })

  test('sign out forgets the token', () => {
    const storage = signedIn()
    const api = createAdminApi({ fetch: fakeFetch({}), storage })
    api.signOut()
    expect(api.state.token).toBe('')
    expect(storage.getItem('duet.admin')).toBeNull()
  })
})

describe('calls', () => {
  test('carry both headers and a JSON body', async () => {
    const fetch = fakeFetch({ 'POST /admin/api/sessions/7/end': noContent() })
    const api = createAdminApi({ fetch, storage: signedIn() })
    expect(await api.post('sessions/7/end', { reason: 'spam' })).toBeNull()
    expect(fetch.requests[0]).toMatchObject({
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'X-Duet-Operator': 'ann', 'Content-Type': 'application/json' },
      body: { reason: 'spam' },
    })
  })

  test("a refusal reads as the server's sentence", async () => {
    const fetch = fakeFetch({ 'POST /admin/api/bans': json(400, { error: 'duration must be a positive duration like 30m or 72h, at most 87600h' }) })
    const err = await failure(createAdminApi({ fetch, storage: signedIn() }).post('bans', {}))
    expect(err).toMatchObject({ status: 400, message: 'Duration must be a positive duration like 30m or 72h, at most 87600h.' })
  })

  test('a failure without words, and no server at all, still read as sentences', async () => {
    const fetch = fakeFetch({ 'GET /admin/api/stats': json(502, null), 'GET /admin/api/queue': new TypeError('Failed to fetch') })
    const api = createAdminApi({ fetch, storage: signedIn() })
    expect((await failure(api.get('stats'))).message).toBe('The server failed (HTTP 502). Try again.')
    expect(await failure(api.get('queue'))).toMatchObject({ status: 0, message: expect.stringMatching(/could not be reached/) })
  })

  test('a token no longer accepted signs the operator out, saying why', async () => {
    const storage = signedIn()
    const api = createAdminApi({ fetch: fakeFetch({ 'GET /admin/api/stats': json(401, { error: 'a valid admin token is required' }) }), storage })
    await failure(api.get('stats'))
    expect(api.state).toMatchObject({ token: '', notice: 'The admin token is no longer accepted. Sign in again.' })
    expect(storage.getItem('duet.admin')).toBeNull()
  })
})

test('query keeps the parameters that are set', () => {
  expect(query({ status: 'open', category: '' })).toBe('?status=open')
  expect(query({ account: undefined })).toBe('')
})
