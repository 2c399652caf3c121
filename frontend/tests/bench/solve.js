// How long the page's proof-of-work solver takes in this machine's Chromium: the built worker
// (dist/assets/proof.worker-*.js), started afresh for each challenge as the page does, on
// challenges made like the server's with random answers. Not part of the test runs:
//
//   cd frontend && npm run build && node tests/bench/solve.js [runs per difficulty, 5] [difficulties, 20000,100000,1000000]
//
// prints, for each difficulty (maxnumber), the median, fastest and slowest solve, and the
// numbers tried per second over all of its solves.
import { createServer } from 'node:http'
import { once } from 'node:events'
import { readdir, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { chromium } from 'playwright-core'
import { makeChallenge } from '../unit/challenge.js'

const runs = Number(process.argv[2] || 5)
const difficulties = (process.argv[3] || '20000,100000,1000000').split(',').map(Number)

const assets = resolve(import.meta.dirname, '../../dist/assets')
const workerFile = (await readdir(assets).catch(() => [])).find((f) => /^proof\.worker-.*\.js$/.test(f))
if (!workerFile) throw new Error('no built worker in frontend/dist/assets: run `npm run build` first')

const server = createServer(async (req, res) => {
  if (req.url === '/') return res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>solve bench</title>')
  if (req.url !== `/assets/${workerFile}`) return res.writeHead(404).end()
  res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(await readFile(join(assets, workerFile)))
}).listen(0, '127.0.0.1')
await once(server, 'listening')

// As the browser tests launch it (harness.js, which needs vitest around it).
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] })
try {
  const page = await browser.newPage()
  await page.goto(`http://127.0.0.1:${server.address().port}/`)
  console.log(`${runs} solves each, Chromium ${browser.version()}\n`)
  console.log('maxnumber | median | fastest | slowest | numbers/s')
  console.log('---: | ---: | ---: | ---: | ---:')
  for (const maxnumber of difficulties) {
    const made = Array.from({ length: runs }, () => makeChallenge(maxnumber))
    const solves = await page.evaluate(
      ({ url, challenges }) =>
        challenges.reduce(
          (done, challenge) =>
            done.then(async (times) => {
              const started = performance.now()
              const worker = new Worker(url, { type: 'module' })
              worker.postMessage(challenge)
              const number = await new Promise((found) => (worker.onmessage = ({ data }) => 'number' in data && found(data.number)))
              worker.terminate()
              return [...times, { ms: performance.now() - started, number }]
            }),
          Promise.resolve([]),
        ),
      { url: `/assets/${workerFile}`, challenges: made.map((m) => m.challenge) },
    )
    solves.forEach((s, i) => {
      if (s.number !== made[i].number) throw new Error(`solved ${s.number}, the answer was ${made[i].number}`)
    })
    const ms = solves.map((s) => s.ms).sort((a, b) => a - b)
    const tried = made.reduce((n, m) => n + m.number + 1, 0)
    const total = ms.reduce((a, b) => a + b, 0)
    const fmt = (x) => `${Math.round(x)} ms`
    console.log(`${maxnumber} | ${fmt(ms[ms.length >> 1])} | ${fmt(ms[0])} | ${fmt(ms.at(-1))} | ${Math.round(tried / (total / 1000))}`)
  }
} finally {
  await browser.close()
  server.close()
}
