import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// `npm run dev` serves the page on :5173 and forwards the server's paths (/ws, the JSON the
// page reads, the admin API) to a `duet serve` on :8080; the server then sees the dev server as
// the origin, so start it with --allowed-origins http://localhost:5173.
const server = 'http://localhost:8080'
export default defineConfig({
  plugins: [vue()],
  // vue-i18n without its legacy API and devtools hooks: the page uses the Composition API only.
  define: {
    __VUE_I18N_FULL_INSTALL__: false,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  build: { outDir: 'dist', emptyOutDir: true },
  server: {
    proxy: {
      '/ws': { target: 'ws://localhost:8080', ws: true },
      '/settings.json': server,
      '/online.json': server,
      '/admin/api': server,
    },
  },
  test: {
    environment: 'jsdom',
    include: ['tests/unit/**/*.test.js'],
  },
})
