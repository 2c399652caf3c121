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

/**
 * What a new ban is, wherever it is made (Bans, an account, a report): the address, as someone
 * banned by account alone comes back with a new one in a click, for three days. The dialog says
 * how many connected accounts that cuts off before it is made.
 */
export const defaultBan = Object.freeze({ kind: 'address', duration: '72h' })

/** Who made a ban, as the bans table says it: the operator's name, or what made it. */
export function banOperator(by) {
  if (by === 'auto') return 'automatic (cooling-off)'
  if (by === 'operator') return 'an operator (not named)'
  return by
}
