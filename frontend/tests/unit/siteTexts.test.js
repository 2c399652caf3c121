// The operator's site texts: read from /settings.json, shown instead of the built-in ones.
import { afterEach, beforeEach, expect, test } from 'vitest'
import { mount } from '@vue/test-utils'
import InfoDialog from '../../src/components/InfoDialog.vue'
import { addressHref, loadSettings, site, textBlocks } from '../../src/settings.js'
import { plainMessage } from '../../src/i18n/index.js'
import { catalogue } from './words.js'

const empty = { ...site }
afterEach(() => Object.assign(site, empty))
beforeEach(() => {
  HTMLDialogElement.prototype.showModal ||= function () {
    this.open = true
  }
  HTMLDialogElement.prototype.close ||= function () {
    this.open = false
  }
})

const answer = (body) => async () => ({ ok: true, json: async () => body })

test("the server's site texts are taken, anything not a string is not", async () => {
  await loadSettings(answer({ maxSessions: 3, site: { name: ' Night Owls ', contact: 'hi@owls.example', rules: 7 } }))
  expect(site).toEqual({ name: 'Night Owls', contact: 'hi@owls.example', abuse: '', rules: '', privacy: '' })
})

test('an operator text is paragraphs and lists', () => {
  expect(textBlocks('Be kind.\nReally.\n\n- No spam\n- No hate\n\n\nThanks')).toEqual([
    { list: false, lines: ['Be kind. Really.'] },
    { list: true, lines: ['No spam', 'No hate'] },
    { list: false, lines: ['Thanks'] },
  ])
})

test('a contact is an email address or an http(s) URL, nothing else', () => {
  expect(addressHref('abuse@owls.example')).toBe('mailto:abuse@owls.example')
  expect(addressHref('https://owls.example/abuse')).toBe('https://owls.example/abuse')
  expect(addressHref('javascript:alert(1)')).toBe(null)
  expect(addressHref('call us')).toBe(null)
})

test('the site name stands in for Duet in every sentence, as written', () => {
  const i18n = catalogue()
  const { t } = i18n.global
  expect(t('ended.kicked')).toBe('A moderator removed you from Duet.')
  i18n.global.mergeLocaleMessage('en', { site: { name: plainMessage('Owls {at} @Night | Day') } })
  try {
    expect(t('ended.kicked')).toBe('A moderator removed you from Owls {at} @Night | Day.')
    expect(t('app.title')).toBe('Owls {at} @Night | Day')
  } finally {
    i18n.global.mergeLocaleMessage('en', { site: { name: 'Duet' } }) // the catalogues are shared
  }
})

const dialog = (topic) => mount(InfoDialog, { props: { topic }, global: { plugins: [catalogue()] }, attachTo: document.body })

test("the rules dialog shows the operator's rules and where to report abuse", () => {
  Object.assign(site, { rules: 'Be kind.\n\n- No spam\n- <b>No</b> hate', abuse: 'abuse@owls.example' })
  const w = dialog('rules')
  expect(w.findAll('.prose li').map((li) => li.text())).toEqual(['No spam', '<b>No</b> hate'])
  expect(w.find('.prose p').text()).toBe('Be kind.')
  expect(w.text()).not.toContain('You must be 18 or older.')
  expect(w.find('.site-address a').attributes('href')).toBe('mailto:abuse@owls.example')
  w.unmount()
})

test('without operator texts the built-in ones stand, with no address', () => {
  const w = dialog('privacy')
  expect(w.text()).toContain('Duet has no sign-up.')
  expect(w.find('.site-address').exists()).toBe(false)
  w.unmount()
})
