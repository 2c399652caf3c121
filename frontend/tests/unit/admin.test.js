// The admin page's screens, mounted with the real routes against a fake admin API.
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { h } from 'vue'
import { createMemoryHistory, createRouter, RouterView } from 'vue-router'
import { routes } from '../../src/router.js'
import { createAdminApi } from '../../src/admin/api.js'
import { fakeFetch, json, noContent } from './fakeFetch.js'
import { memoryStorage } from './storage.js'

const TOKEN = 'a-long-admin-token-for-tests'
const API = '/admin/api/'

beforeEach(() => {
  HTMLDialogElement.prototype.showModal ||= function () {
    this.open = true
  }
  HTMLDialogElement.prototype.close ||= function () {
    this.open = false
  }
})

const mounted = []
afterEach(() => {
  for (const w of mounted.splice(0)) w.unmount()
  vi.useRealTimers()
})

const settings = (paused = false) => json(200, { matchingPaused: paused })
const stats = (over = {}) =>
  json(200, {
    accountsOnline: 12,
    connections: 14,
    waiting: 3,
    liveSessions: 4,
    messagesPerMinute: 90,
    matchesPerMinute: 6,
    timeToMatchMs: { p50: 850, p95: 4200, samples: 30 },
    openReports: 0,
    nodes: [{ node: 7, version: 'v1.2.0', startedAt: '2026-11-22T06:00:00Z', postedAt: '2026-11-22T06:30:00Z', connections: 14, accountsOnline: 12, messagesPerMinute: 90, matchesPerMinute: 6 }],
    ...over,
  })

const reportPage = (reports, over = {}) => json(200, { reports, total: reports.length, open: reports.filter((r) => r.status === 'open').length, ...over })

/** The admin page at path, signed in (unless told otherwise) to a server answering answers. */
async function open(path, answers, { signedIn = true } = {}) {
  const fetch = fakeFetch({ [`GET ${API}settings`]: settings(), [`GET ${API}reports?status=open&limit=1`]: reportPage([]), ...answers })
  const storage = memoryStorage(signedIn ? { 'duet.admin': JSON.stringify({ operator: 'ann', token: TOKEN }) } : {})
  const api = createAdminApi({ fetch, storage })
  const router = createRouter({ history: createMemoryHistory(), routes })
  router.push(path)
  await router.isReady()
  const w = mount({ render: () => h(RouterView) }, { global: { plugins: [router], provide: { adminApi: api } }, attachTo: document.body })
  mounted.push(w)
  await flushPromises()
  return { w, fetch, api, router }
}

const sent = (fetch, method, path) => fetch.requests.filter((r) => r.method === method && r.url === API + path)

describe('signing in', () => {
  test('a wrong token is refused, the right one opens the overview', async () => {
    let token = 'wrong'
    const { w } = await open(
      '/admin',
      {
        [`GET ${API}settings`]: (r) => (r.headers.Authorization === `Bearer ${TOKEN}` ? settings() : json(401, { error: 'a valid admin token is required' })),
        [`GET ${API}stats`]: stats(),
      },
      { signedIn: false },
    )
    expect(w.find('nav').exists()).toBe(false)
    await w.find('#operator').setValue('ann')
    await w.find('#token').setValue(token)
    await w.find('form').trigger('submit')
    await flushPromises()
    expect(w.text()).toContain('That admin token is not the right one.')

    token = TOKEN
    await w.find('#token').setValue(token)
    await w.find('form').trigger('submit')
    await flushPromises()
    expect(w.text()).toContain('Signed in as ann')
    expect(w.find('nav[aria-label="Admin screens"] [aria-current="page"]').text()).toBe('Overview')
    expect(w.text()).toContain('Accounts online12')
  })

  test('sign out returns to the sign-in form', async () => {
    const { w, api } = await open('/admin/audit', { [`GET ${API}audit?limit=200`]: json(200, { entries: [] }) })
    await w.findAll('button').find((b) => b.text() === 'Sign out').trigger('click')
    expect(api.state.token).toBe('')
    expect(w.find('#token').exists()).toBe(true)
  })
})

describe('the overview', () => {
  test('shows the figures and the nodes, and reads them again every few seconds', async () => {
    vi.useFakeTimers()
    let online = 12
    const { w, fetch } = await open('/admin', { [`GET ${API}stats`]: () => stats({ accountsOnline: online }) })
    const figure = (name) => w.findAll('.figure').find((f) => f.find('dt').text() === name).find('dd').text()
    expect(figure('Accounts online')).toBe('12')
    expect(figure('Time to match, median')).toBe('850 ms')
    expect(figure('Time to match, 95th percentile')).toBe('4.2 s')
    expect(w.find('tbody th').text()).toBe('7')
    expect(figure('Open reports')).toBe('0')
    expect(w.find('nav[aria-label="Admin screens"] .badge').exists()).toBe(false)
    online = 13
    await vi.advanceTimersByTimeAsync(3000)
    expect(figure('Accounts online')).toBe('13')
    expect(sent(fetch, 'GET', 'stats').length).toBe(2)
  })

  test('shows the open reports, also as a badge on the Reports tab', async () => {
    const { w } = await open('/admin', { [`GET ${API}stats`]: stats({ openReports: 4 }) })
    expect(w.findAll('.figure').find((f) => f.find('dt').text() === 'Open reports').find('dd').text()).toBe('4')
    expect(w.find('nav[aria-label="Admin screens"] a[href="/admin/reports"]').text()).toBe('Reports 4 open')
  })

  test('pausing matching needs a reason, then says matching is paused', async () => {
    const { w, fetch } = await open('/admin', {
      [`GET ${API}stats`]: stats(),
      [`PUT ${API}settings`]: (r) => settings(r.body.matchingPaused),
    })
    expect(w.text()).toContain('On: people are being paired.')
    await w.findAll('button').find((b) => b.text() === 'Pause matching').trigger('click')
    const dialog = w.find('dialog')
    await dialog.find('form').trigger('submit')
    expect(dialog.text()).toContain('Give a reason.')
    expect(sent(fetch, 'PUT', 'settings')).toEqual([])

    await dialog.find('textarea').setValue('spam wave')
    await dialog.find('form').trigger('submit')
    await flushPromises()
    expect(sent(fetch, 'PUT', 'settings')[0].body).toEqual({ matchingPaused: true, reason: 'spam wave' })
    expect(w.find('dialog').exists()).toBe(false)
    expect(w.text()).toContain('Matching is paused: nobody is paired until it is resumed.')
    expect(w.findAll('button').some((b) => b.text() === 'Resume matching')).toBe(true)
  })
})

describe('the bot challenge', () => {
  const steps = [
    { rate: 2, maxnumber: 20000 },
    { rate: 10, maxnumber: 100000 },
    { rate: 50, maxnumber: 1000000 },
  ]
  const challenge = (over = {}) =>
    json(200, { mode: 'auto', configuredMode: 'auto', active: false, maxnumber: 0, accountsPerSecond: 0.4, steps, lastMinute: { issued: 3, solved: 2, failed: 1 }, ...over })
  const section = (w) => w.find('section[aria-labelledby="challenge-title"]')
  const fact = (w, name) => {
    const dts = section(w).findAll('dt')
    const dt = dts.find((d) => d.text() === name)
    return dt ? dt.element.nextElementSibling.textContent.trim() : null
  }
  const figure = (w, name) => section(w).findAll('.figure').find((f) => f.find('dt').text() === name).find('dd').text()

  test('shows the mode in force, whether new visitors are asked and how hard, and reads it again every few seconds', async () => {
    vi.useFakeTimers()
    let state = challenge({ mode: 'on', active: true, maxnumber: 100000, accountsPerSecond: 12.345 })
    const { w } = await open('/admin', { [`GET ${API}stats`]: stats(), [`GET ${API}challenge`]: () => state })
    expect(fact(w, 'In force')).toBe('On: every new visitor waits a moment while their browser solves a puzzle, longer as new accounts arrive faster.')
    expect(fact(w, "The nodes' setting")).toBe('Auto; an operator changed it (see the audit log).')
    expect(fact(w, 'Now')).toBe('New visitors are asked to solve a puzzle of difficulty 100,000.')
    expect(figure(w, 'New accounts per second')).toBe('12.35')
    expect(figure(w, 'Difficulty now')).toBe('100,000')
    expect([figure(w, 'Challenges, last minute'), figure(w, 'Solved, last minute'), figure(w, 'Failed, last minute')]).toEqual(['3', '2', '1'])
    const rows = () =>
      section(w)
        .findAll('tbody tr')
        .map((r) => r.findAll('td').map((c) => c.text()))
    expect(rows()).toEqual([
      ['2', '20,000', ''],
      ['10', '100,000', 'asked'],
      ['50', '1,000,000', ''],
    ])

    state = challenge({ accountsPerSecond: 0.4 })
    await vi.advanceTimersByTimeAsync(3000)
    expect(fact(w, 'In force')).toMatch(/^Auto: puzzles only while new accounts arrive faster than usual/)
    expect(fact(w, "The nodes' setting")).toBe(null)
    expect(fact(w, 'Now')).toBe('New visitors are not asked: new accounts arrive at an ordinary rate. An address creating accounts fast still is.')
    expect(figure(w, 'Difficulty now')).toBe('none')
    expect(rows().map((r) => r[2])).toEqual(['', '', ''])
  })

  test('the mode changes only to another one, with a reason, and a read under way does not bring the old one back', async () => {
    vi.useFakeTimers()
    let mode = 'auto'
    let answerRead = null // a read that the test answers when it chooses
    const { w, fetch } = await open('/admin', {
      [`GET ${API}stats`]: stats(),
      [`GET ${API}challenge`]: () => {
        const answer = challenge({ mode, active: mode === 'on', maxnumber: mode === 'on' ? 20000 : 0 })
        return answerRead ? new Promise((resolve) => (answerRead = () => resolve(answer))) : answer
      },
      [`PUT ${API}challenge`]: (r) => {
        mode = r.body.mode
        return challenge({ mode, active: true, maxnumber: 20000 })
      },
    })
    await section(w)
      .findAll('button')
      .find((b) => b.text() === 'Change mode…')
      .trigger('click')
    const dialog = w.find('dialog')
    expect(dialog.find('input[value="auto"]').element.checked).toBe(true)
    expect(dialog.findAll('label.check').map((l) => l.text())).toEqual([
      'Off: no visitor is asked to solve a puzzle; new accounts meet the rate limits only.',
      'On: every new visitor waits a moment while their browser solves a puzzle, longer as new accounts arrive faster.',
      'Auto (in force): puzzles only while new accounts arrive faster than usual, service-wide or from one address; harder as the rate rises.',
    ])
    await dialog.find('form').trigger('submit')
    expect(dialog.text()).toContain('Give a reason.')
    await dialog.find('textarea').setValue('bot wave')
    await dialog.find('form').trigger('submit')
    await flushPromises()
    expect(dialog.text()).toContain('Auto is in force already: choose another mode.')
    expect(sent(fetch, 'PUT', 'challenge')).toEqual([])

    answerRead = () => {} // the next read hangs until the change is made
    await vi.advanceTimersByTimeAsync(3000)
    const stale = answerRead
    await dialog.find('input[value="on"]').setValue(true)
    await dialog.find('form').trigger('submit')
    await flushPromises()
    expect(sent(fetch, 'PUT', 'challenge')[0].body).toEqual({ mode: 'on', reason: 'bot wave' })
    expect(w.find('dialog').exists()).toBe(false)
    expect(fact(w, 'In force')).toMatch(/^On: /)
    stale() // the read from before the change answers "auto" now
    await flushPromises()
    expect(fact(w, 'In force')).toMatch(/^On: /)
    expect(fact(w, 'Now')).toBe('New visitors are asked to solve a puzzle of difficulty 20,000.')
  })
})

describe('sessions', () => {
  const live = {
    sessionId: 500,
    members: [
      { accountId: 11, nickName: 'Ann' },
      { accountId: 12, nickName: 'Bob' },
    ],
    commonInterests: ['music'],
    startedAt: '2026-11-22T06:00:00Z',
    lastMsgId: 900,
  }

  test('filter by account', async () => {
    const { w, fetch } = await open('/admin/sessions', {
      [`GET ${API}sessions`]: json(200, { sessions: [live], live: 1 }),
      [`GET ${API}sessions?account=12`]: json(200, { sessions: [], live: 0 }),
    })
    expect(w.text()).toContain('1 live session; the newest 1 shown.')
    expect(w.find('tbody a[href="/admin/accounts/12"]').text()).toBe('Bob')
    await w.find('#session-account').setValue('12')
    await w.find('form').trigger('submit')
    await flushPromises()
    expect(sent(fetch, 'GET', 'sessions?account=12').length).toBe(1)
    expect(w.text()).toContain('Account 12 is in 0 live sessions.')
  })

  test('End session, with a reason, ends it for good', async () => {
    let ended = false
    const { w, fetch } = await open('/admin/sessions/500', {
      [`GET ${API}sessions/500`]: () => json(200, ended ? { ...live, endedAt: '2026-11-22T06:10:00Z', endReason: 'removed' } : live),
      [`POST ${API}sessions/500/end`]: () => (ended ? json(409, { error: 'the session has ended' }) : ((ended = true), noContent())),
    })
    await w.findAll('button').find((b) => b.text() === 'End session').trigger('click')
    await w.find('dialog textarea').setValue('harassment')
    await w.find('dialog form').trigger('submit')
    await flushPromises()
    expect(sent(fetch, 'POST', 'sessions/500/end')[0].body).toEqual({ reason: 'harassment' })
    expect(w.text()).toContain('The session was ended')
    expect(w.text()).toContain('(removed)')
    expect(w.findAll('button').some((b) => b.text() === 'End session')).toBe(false)
  })
})

test('an account is kicked and banned by address, and a refusal is shown in the dialog', async () => {
  const { w, fetch } = await open('/admin/accounts/11', {
    [`GET ${API}accounts/11`]: json(200, {
      accountId: 11,
      nickName: 'Ann',
      createdAt: '2026-11-22T06:00:00Z',
      lastSeen: '2026-11-22T06:05:00Z',
      away: false,
      connected: true,
      node: 7,
      client: { addr: 'a'.repeat(32), network: 'b'.repeat(32) },
      sessions: [],
    }),
    [`POST ${API}accounts/11/kick`]: noContent(),
    [`POST ${API}bans`]: (r) =>
      r.body.duration === 'forever'
        ? json(400, { error: 'duration must be a positive duration like 30m or 72h, at most 87600h' })
        : json(201, { id: 70, target: { kind: 'address', value: 'a'.repeat(32) }, reason: r.body.reason, until: '2026-11-25T06:00:00Z' }),
  })
  expect(w.text()).toContain('Connected to node 7')
  const button = (name) => w.findAll('button').find((b) => b.text() === name)

  await button('Kick').trigger('click')
  // The dialog says which words the person sees, and keeps the private note apart.
  expect(w.find('label[for="reason"]').text()).toBe('Reason shown to the person')
  expect(w.find('#private-note-hint').text()).toContain('never shown to them')
  await w.find('dialog textarea').setValue('calm down')
  await w.find('dialog form').trigger('submit')
  await flushPromises()
  expect(sent(fetch, 'POST', 'accounts/11/kick')[0].body).toEqual({ reason: 'calm down' })

  await button('Ban…').trigger('click')
  await w.find('dialog input[value="address"]').setValue(true)
  await w.find('#account-ban-duration').setValue('forever')
  await w.find('dialog textarea').setValue('spam')
  await w.find('dialog form').trigger('submit')
  await flushPromises()
  expect(w.find('dialog').text()).toContain('Duration must be a positive duration like 30m or 72h, at most 87600h.')
  await w.find('#account-ban-duration').setValue('72h')
  await w.find('#private-note').setValue('same ad text as report 30')
  await w.find('dialog form').trigger('submit')
  await flushPromises()
  expect(sent(fetch, 'POST', 'bans')[1].body).toEqual({ kind: 'address', accountId: 11, duration: '72h', reason: 'spam', note: 'same ad text as report 30' })
  expect(w.find('dialog').exists()).toBe(false)
  expect(w.text()).toContain('Banned (address) until')
})

describe('a report', () => {
  const report = {
    reportId: 30,
    sessionId: 500,
    reporterId: 11,
    reportedId: 12,
    reportedClient: { addr: 'a'.repeat(32), network: 'b'.repeat(32) },
    category: 'spam',
    note: 'links',
    createdAt: '2026-11-22T06:10:00Z',
    status: 'open',
    priority: 2,
    evidence: [
      { msgId: 1, sessionId: 500, senderId: 11, content: 'hi', sentAt: '2026-11-22T06:01:00Z' },
      { msgId: 2, sessionId: 500, senderId: 12, content: '<img src=x onerror="alert(1)">buy now', sentAt: '2026-11-22T06:02:00Z' },
    ],
  }

  test('shows its evidence as a conversation, as text', async () => {
    const { w } = await open('/admin/reports/30', { [`GET ${API}reports/30`]: json(200, report) })
    const lines = w.findAll('.evidence li')
    expect(lines.map((l) => l.find('.meta').text().split(' · ')[0])).toEqual(['Reporter (11)', 'Reported (12)'])
    expect(lines[1].find('.bubble').text()).toBe('<img src=x onerror="alert(1)">buy now')
    expect(w.find('.evidence img').exists()).toBe(false)
    expect(w.text()).toContain('Spam or advertising')
  })

  test('is accepted with an address ban and a note, then shows the decision', async () => {
    let decided = null
    const { w, fetch } = await open('/admin/reports/30', {
      [`GET ${API}reports?status=open&limit=1`]: reportPage([report]),
      [`GET ${API}reports/30`]: () => json(200, decided || report),
      [`POST ${API}reports/30/resolve`]: (r) => {
        decided = { ...report, status: 'accepted', resolution: { operator: 'ann', note: r.body.note, at: '2026-11-22T06:20:00Z', banId: 71 } }
        return json(200, decided)
      },
    })
    expect(w.find('nav[aria-label="Admin screens"] .badge').text()).toBe('1 open')
    await w.find('input[name=ban]').setValue(true)
    await w.find('form.decision').trigger('submit')
    expect(w.text()).toContain('Write a note')
    expect(sent(fetch, 'POST', 'reports/30/resolve')).toEqual([])
    await w.find('#decision-note').setValue('ad bot')
    await w.find('form.decision').trigger('submit')
    await flushPromises()
    expect(sent(fetch, 'POST', 'reports/30/resolve')[0].body).toEqual({ decision: 'accept', note: 'ad bot', ban: { kind: 'address', duration: '72h' } })
    expect(w.find('form.decision').exists()).toBe(false)
    expect(w.text()).toContain('by ann')
    expect(w.text()).toContain('ad bot (ban 71)')
    expect(w.find('nav[aria-label="Admin screens"] .badge').exists()).toBe(false) // the one open report is decided
  })

  test('a ban from a report may carry a reason written to be shown; the note stays private', async () => {
    const { w, fetch } = await open('/admin/reports/30', {
      [`GET ${API}reports/30`]: json(200, report),
      [`POST ${API}reports/30/resolve`]: () => json(200, { ...report, status: 'accepted', resolution: { operator: 'ann', note: 'x', at: '2026-11-22T06:20:00Z' } }),
    })
    await w.find('input[name=ban]').setValue(true)
    expect(w.find('#report-ban-reason-hint').text()).toContain('“spam”')
    expect(w.find('label[for="decision-note"]').text()).toContain('never shown')
    await w.find('#report-ban-reason').setValue('Advertising is not allowed here.')
    await w.find('#decision-note').setValue('third report this week')
    await w.find('form.decision').trigger('submit')
    await flushPromises()
    expect(sent(fetch, 'POST', 'reports/30/resolve')[0].body).toEqual({
      decision: 'accept',
      note: 'third report this week',
      ban: { kind: 'address', duration: '72h', reason: 'Advertising is not allowed here.' },
    })
  })

  test('the list filters by status and category', async () => {
    const { w, fetch } = await open('/admin/reports', {
      [`GET ${API}reports?status=open&group=session&limit=50`]: reportPage([report]),
      [`GET ${API}reports?status=open&category=spam&group=session&limit=50`]: reportPage([]),
    })
    expect(w.find('tbody a[href="/admin/reports/30"]').exists()).toBe(true)
    await w.find('#report-category').setValue('spam')
    await flushPromises()
    expect(sent(fetch, 'GET', 'reports?status=open&category=spam&group=session&limit=50').length).toBe(1)
    expect(w.text()).toContain('No reports.')
  })

  test('the list shows the two sides of a chat together, and pages', async () => {
    const abusers = { ...report, reportId: 31, reporterId: 12, reportedId: 11, otherSideReportId: 30, createdAt: '2026-11-22T06:05:00Z' }
    const victims = { ...report, otherSideReportId: 31, filings: 3 }
    const other = { ...report, reportId: 40, sessionId: 501 }
    const { w, fetch } = await open('/admin/reports', {
      [`GET ${API}reports?status=open&group=session&limit=50`]: reportPage([abusers, victims, other], { total: 120, open: 120, nextOffset: 50 }),
      [`GET ${API}reports?status=open&group=session&offset=50&limit=50`]: reportPage([other], { total: 120, open: 120 }),
    })
    const rows = w.findAll('tbody tr')
    expect(rows.map((r) => r.find('th a').text())).toEqual(['Review 31', 'Review 30', 'Review 40'])
    expect(rows[0].text()).toContain('both sides reported this chat')
    expect(rows[1].classes()).toContain('paired-report')
    expect(rows[1].text()).toContain('the other side of the chat above')
    expect(rows[1].text()).toContain('(3×)')
    expect(rows[2].classes()).not.toContain('paired-report')
    expect(w.find('nav[aria-label="Admin screens"] a[href="/admin/reports"] .badge').text()).toBe('120 open')
    expect(w.text()).toContain('1–3 of 120')
    await w.findAll('button').find((b) => b.text() === 'Next page').trigger('click')
    await flushPromises()
    expect(sent(fetch, 'GET', 'reports?status=open&group=session&offset=50&limit=50').length).toBe(1)
    expect(w.findAll('tbody tr').length).toBe(1)
  })

  test("names the other side's report on the same chat", async () => {
    const { w } = await open('/admin/reports/30', { [`GET ${API}reports/30`]: json(200, { ...report, otherSideReportId: 31 }) })
    expect(w.find('a[href="/admin/reports/31"]').text()).toBe('report 31')
    expect(w.text()).toContain('whoever reported first may be the abuser')
  })
})

test('a ban is lifted with a reason', async () => {
  let bans = [{ id: 70, target: { kind: 'account', value: '12' }, reason: 'spam', by: 'ann', createdAt: '2026-11-22T06:00:00Z', until: '2026-11-25T06:00:00Z' }]
  const { w, fetch } = await open('/admin/bans', {
    [`GET ${API}bans`]: () => json(200, { bans }),
    [`DELETE ${API}bans/70`]: () => {
      bans = []
      return json(200, {})
    },
  })
  expect(w.find('tbody a[href="/admin/accounts/12"]').exists()).toBe(true)
  await w.findAll('button').find((b) => b.text() === 'Lift').trigger('click')
  await w.find('dialog textarea').setValue('appeal accepted')
  await w.find('dialog form').trigger('submit')
  await flushPromises()
  expect(sent(fetch, 'DELETE', 'bans/70')[0].body).toEqual({ reason: 'appeal accepted' })
  expect(w.text()).toContain('Ban 70 was lifted.')
  expect(w.text()).toContain('No bans.')
})

test('a broadcast needs text, then goes out with its level', async () => {
  const { w, fetch } = await open('/admin/broadcast', { [`POST ${API}broadcast`]: noContent() })
  await w.find('form').trigger('submit')
  expect(w.text()).toContain('Write the notice.')
  await w.find('#notice-text').setValue('Maintenance at 22:00 UTC')
  await w.find('input[value=warning]').setValue(true)
  await w.find('form').trigger('submit')
  await flushPromises()
  expect(sent(fetch, 'POST', 'broadcast')).toHaveLength(1)
  expect(sent(fetch, 'POST', 'broadcast')[0].body).toEqual({ text: 'Maintenance at 22:00 UTC', level: 'warning' })
  expect(w.text()).toContain('Sent to everyone connected')
})

describe('the last hour, accounts by nickname, and what a ban cuts off', () => {
  const minute = (m, over = {}) => ({ at: `2026-12-05T11:${String(m).padStart(2, '0')}:00Z`, connections: 10 + m, waiting: 2, sessions: 4, messages: 30, matches: 3, challengesIssued: 0, challengesSolved: 0, challengesFailed: 0, ...over })

  test('the overview draws the last hour of each figure, with a gap for a minute not recorded', async () => {
    const history = json(200, { from: '2026-12-05T11:00:00Z', to: '2026-12-05T11:59:00Z', minutes: [minute(57), minute(59, { connections: 80, challengesIssued: 12 })] })
    const { w } = await open('/admin', { [`GET ${API}stats`]: stats(), [`GET ${API}stats/history`]: history })
    const charts = w.findAll('section[aria-labelledby="history-title"] .minute-chart')
    expect(charts.map((c) => c.find('.chart-title').text())).toEqual([
      'Connections',
      'Waiting',
      'Live sessions',
      'Messages per minute',
      'Matches per minute',
      'Challenges per minute',
    ])
    const connections = charts[0]
    expect(connections.find('.chart-now').text()).toBe('80')
    expect(connections.find('svg').attributes('aria-label')).toBe('Connections, the last hour: 80 this minute, at most 80.')
    // Minutes 57 and 59 are apart: two strokes.
    expect(connections.find('.chart-line').attributes('d').match(/M/g).length).toBe(2)
    expect(charts[5].find('svg').attributes('aria-label')).toBe('Challenges per minute, the last hour: 12 this minute, at most 12.')
  })

  test('accounts are found by nickname, and Back returns to the results', async () => {
    const found = {
      accounts: [
        { accountId: 21, nickName: 'Annika', createdAt: '2026-12-05T11:00:00Z', lastSeen: '2026-12-05T11:05:00Z', away: false, connected: true },
        { accountId: 22, nickName: 'JoAnna', createdAt: '2026-12-05T10:00:00Z', lastSeen: '2026-12-05T10:05:00Z', away: true, connected: false },
      ],
      found: 3,
    }
    const { w, fetch, router } = await open('/admin/accounts', { [`GET ${API}accounts?nickname=ann`]: json(200, found) })
    await w.find('form[aria-label="By nickname"]').trigger('submit')
    expect(w.find('#account-nickname-problem').text()).toBe('Give a part of the nickname, 1 to 200 characters.')
    await w.find('#account-nickname').setValue(' ann ')
    await w.find('form[aria-label="By nickname"]').trigger('submit')
    await flushPromises()
    expect(router.currentRoute.value.query).toEqual({ nickname: 'ann' })
    expect(sent(fetch, 'GET', 'accounts?nickname=ann').length).toBe(1)
    expect(w.text()).toContain('3 accounts found; the 2 last seen are shown.')
    const rows = w.findAll('tbody tr').map((r) => r.findAll('th, td').map((c) => c.text()))
    expect(rows.map((r) => r.slice(0, 3))).toEqual([
      ['Annika', '21', 'Connected'],
      ['JoAnna', '22', 'Away'],
    ])
    expect(w.find('tbody a[href="/admin/accounts/21"]').exists()).toBe(true)
  })

  test('the bans name their operator; a new ban is of the address by default and says what it cuts off', async () => {
    const hash = 'c'.repeat(32)
    const bans = [
      { id: 70, target: { kind: 'address', value: hash }, reason: 'spam', note: 'ad wave', by: 'ann', createdAt: '2026-11-22T06:00:00Z', until: '2026-11-25T06:00:00Z' },
      { id: 71, target: { kind: 'account', value: '12' }, reason: 'flooding', by: 'auto', createdAt: '2026-11-22T06:00:00Z', until: '2026-11-22T06:01:00Z' },
    ]
    const { w } = await open('/admin/bans', {
      [`GET ${API}bans`]: json(200, { bans }),
      [`GET ${API}bans/impact?kind=address&accountId=12`]: json(200, { target: { kind: 'address', value: hash }, connectedAccounts: 1 }),
      [`GET ${API}bans/impact?kind=network&accountId=12`]: json(200, { target: { kind: 'network', value: hash }, connectedAccounts: 4 }),
    })
    const heads = w.findAll('thead th').map((th) => th.text())
    expect(heads).toContain('Operator')
    expect(heads).toContain('Reason (the banned person sees it)')
    expect(heads).toContain('Private note (operators only)')
    const operators = w.findAll('tbody tr').map((r) => r.findAll('td')[3].text())
    expect(operators).toEqual(['ann', 'automatic (cooling-off)'])

    expect(w.find('section[aria-labelledby="new-ban-title"] form input[value="address"]').element.checked).toBe(true)
    await w.find('#ban-target').setValue('12')
    await w.find('section[aria-labelledby="new-ban-title"] form').trigger('submit')
    await flushPromises()
    expect(w.find('dialog .ban-impact').text()).toBe('It cuts off 1 account connected now.')
    expect(w.find('dialog label[for="reason"]').text()).toBe('Reason shown to the person')
    w.find('dialog').findAll('button').find((b) => b.text() === 'Cancel').trigger('click')
    await flushPromises()
    await w.find('section[aria-labelledby="new-ban-title"] form input[value="network"]').setValue(true)
    await w.find('section[aria-labelledby="new-ban-title"] form').trigger('submit')
    await flushPromises()
    expect(w.find('dialog .ban-impact').text()).toBe('It cuts off 4 accounts connected now: everyone connected from there, not only the one you mean.')
  })
})
