/** A Storage in memory, standing in for sessionStorage. */
export function memoryStorage(entries = {}) {
  const m = new Map(Object.entries(entries))
  return {
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => m.set(k, String(v)),
    removeItem: (k) => m.delete(k),
  }
}
