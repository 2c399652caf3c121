// The words the admin page uses for bans and reports.
export const banKinds = Object.freeze([
  { value: 'account', label: 'This account' },
  { value: 'address', label: 'Its address (every account from it)' },
  { value: 'network', label: 'Its network (the /24 or /64 around the address)' },
])

export const banDurations = Object.freeze([
  { value: '1h', label: 'an hour' },
  { value: '24h', label: 'a day' },
  { value: '72h', label: 'three days' },
  { value: '168h', label: 'a week' },
  { value: '720h', label: 'thirty days' },
  { value: '8760h', label: 'a year' },
])

export const reportStatuses = Object.freeze(['open', 'accepted', 'rejected'])
