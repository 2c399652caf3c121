import { defineConfig } from 'vitest/config'

// The browser tests: Debian's chromium, driven by playwright-core, against the real duet
// binary with the built page in it (run `npm run build` first; `make test` does).
export default defineConfig({
  test: {
    environment: 'node',
    include: ['tests/browser/**/*.test.js'],
    testTimeout: 60000, // an upper bound only: the tests wait for conditions, on a busy machine too
    hookTimeout: 180000, // building the binary
    fileParallelism: false,
  },
})
