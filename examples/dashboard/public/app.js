// The dashboard page: the networker's streams over WebSocket with the remote client
// (`connectNetworker` of @basestore/networker/remote, loaded as an ES module bundled with RxJS),
// rendered live. No framework.
import {
  connectNetworker,
  combineLatest,
  fromEvent,
  exhaustMap,
  from,
  of,
  catchError,
  map,
  scan,
  startWith,
  tap,
  timer
} from '/networker-remote.js'
import uPlot from '/uplot.esm.js'

const MAX_LOG = 200
const $ = (id) => document.getElementById(id)
const el = (tag, props = {}, children = []) => {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(props)) {
    if (name === 'text') node.textContent = value
    else if (name === 'dataset') Object.assign(node.dataset, value)
    else node.setAttribute(name, value)
  }
  for (const child of children) node.append(child)
  return node
}

// ── the connection ──────────────────────────────────────────────────────────────────────────
const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
const hash = new URLSearchParams(location.hash.slice(1))
const token = hash.get('token') ?? undefined
// ms between metrics samples (`#interval=200`); the networker's default otherwise.
const METRICS_INTERVAL = Number(hash.get('interval') ?? 1000)
const networker = connectNetworker(`${scheme}//${location.host}/networker`, { token })
const names = await fetch('/names.json').then((r) => r.json()).catch(() => ({}))

// ── formatting ──────────────────────────────────────────────────────────────────────────────
const short = (hex) => `${hex.slice(0, 8)}…${hex.slice(-4)}`
const age = (ms) => {
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}
const clock = (at) => new Date(at).toLocaleTimeString([], { hour12: false })
// A string as is; an object with a `text` field (a chat line) by its text; bytes as hex; else JSON.
const text = (message) =>
  typeof message === 'string'
    ? message
    : message instanceof Uint8Array
      ? `0x${[...message].map((b) => b.toString(16).padStart(2, '0')).join('')}`
      : message !== null && typeof message === 'object' && typeof message.text === 'string'
        ? message.text
        : JSON.stringify(message)

// ── renderers (each takes the whole state it shows) ─────────────────────────────────────────
const renderPeers = ({ peers, since, fresh, now }) => {
  $('peers').tBodies[0].replaceChildren(
    ...peers.map((peer) => {
      const key = peer.remotePublicKey
      return el('tr', { dataset: { key }, class: fresh.has(key) ? 'fresh' : '' }, [
        el('td', { class: 'key', title: key }, [
          ...(names[key] ? [el('span', { class: 'name', text: names[key] })] : []),
          short(key)
        ]),
        el('td', { text: peer.remoteAddress }),
        el('td', { class: 'num', text: age(now - (since.get(key) ?? now)) })
      ])
    })
  )
  $('peer-count').textContent = String(peers.length)
  $('peers-empty').hidden = peers.length > 0
}

const flag = (name, on) => el('span', { class: on ? 'flag on' : 'flag', text: name })
const renderTopics = (topics) => {
  $('topics').replaceChildren(
    ...topics.map((topic) =>
      el(
        'li',
        {
          dataset: {
            key: topic.discoveryKey,
            announce: String(topic.announce),
            lookup: String(topic.lookup),
            joined: String(topic.joined),
            flushed: String(topic.flushed)
          }
        },
        [
          el('span', { class: 'key', title: topic.discoveryKey, text: topic.discoveryKey }),
          flag('announce', topic.announce),
          flag('lookup', topic.lookup),
          flag('joined', topic.joined),
          flag('flushed', topic.flushed)
        ]
      )
    )
  )
  $('topic-count').textContent = String(topics.length)
  $('topics-empty').hidden = topics.length > 0
}

const renderLog = (entries) => {
  $('messages').replaceChildren(
    ...entries.map((entry) =>
      el('li', {}, [
        el('span', { class: 'at', text: clock(entry.at) }),
        el('span', { class: 'from', title: entry.from, text: names[entry.from] ?? short(entry.from) }),
        el('span', { class: 'text', text: text(entry.message) })
      ])
    )
  )
  $('message-count').textContent = String(entries.length)
  $('messages-empty').hidden = entries.length > 0
}

const renderFailures = (entries) => {
  $('failures').replaceChildren(
    ...entries.map((entry) =>
      el('li', {}, [
        el('span', { class: 'at', text: clock(entry.at) }),
        el('span', { class: 'code', text: entry.code }),
        el('span', { class: 'text', title: entry.message, text: entry.message })
      ])
    )
  )
  $('failure-count').textContent = String(entries.length)
  $('failures-empty').hidden = entries.length > 0
}

// ── pipelines ───────────────────────────────────────────────────────────────────────────────
/** The newest `MAX_LOG` values, newest first. */
const latest = (source$) =>
  source$.pipe(
    scan((log, entry) => [entry, ...log].slice(0, MAX_LOG), []),
    startWith([])
  )
let messagesSubscribed = false
const subscribeMessages = (name) => {
  if (messagesSubscribed) return
  messagesSubscribed = true
  latest(
    networker.messages$(name).pipe(map(({ message, peer }) => ({ at: Date.now(), from: peer.remotePublicKey, message })))
  ).subscribe(renderLog)
}
const STATUS = { connecting: 'connecting', open: 'live', reconnecting: 'reconnecting', closed: 'ended' }
networker.connection$.subscribe((state) => {
  $('status').dataset.state = STATUS[state]
  $('status').textContent = STATUS[state]
})

networker.server$.subscribe(({ publicKey, extensions }) => {
  $('self').textContent = publicKey ? `this peer ${short(publicKey)}` : 'not listening yet'
  $('self').title = publicKey ?? ''
  $('extension').textContent = extensions.length > 0 ? `extension “${extensions[0]}”` : 'no extension'
  if (extensions.length > 0) subscribeMessages(extensions[0])
})

// Rows that were not in the previous set are "fresh" (highlighted once); ages tick every second.
const peerState$ = networker.peers$.pipe(
  scan(
    (previous, peers) => {
      const now = Date.now()
      const since = new Map(peers.map((p) => [p.remotePublicKey, previous.since.get(p.remotePublicKey) ?? now]))
      const fresh = new Set(peers.map((p) => p.remotePublicKey).filter((key) => !previous.since.has(key)))
      return { peers, since, fresh }
    },
    { peers: [], since: new Map(), fresh: new Set() }
  )
)
combineLatest([peerState$, timer(0, 1000)])
  .pipe(map(([state]) => ({ ...state, now: Date.now() })))
  .subscribe(renderPeers)

networker.topics$.pipe(map((topics) => [...topics.values()])).subscribe(renderTopics)

latest(networker.errors$.pipe(map(({ code, message }) => ({ at: Date.now(), code, message })))).subscribe(renderFailures)

// The form: `configure` over the same connection; ignore submits while one is in flight.
const result = $('configure-result')
fromEvent($('configure'), 'submit')
  .pipe(
    tap((event) => event.preventDefault()),
    map(() => ({
      topic: $('topic').value.trim().toLowerCase(),
      announce: $('announce').checked,
      lookup: $('lookup').checked
    })),
    exhaustMap(({ topic, announce, lookup }) =>
      from(networker.configure(topic, { announce, lookup, flush: false })).pipe(
        map((state) => ({ ok: true, state })),
        catchError((err) => of({ ok: false, error: err.message ?? String(err) }))
      )
    )
  )
  .subscribe(({ ok, state, error }) => {
    result.classList.toggle('error', !ok)
    result.textContent = ok ? `configured ${short(state.discoveryKey)}: ${state.joined ? 'joined' : 'left'}` : `error: ${error}`
    if (ok) $('topic').value = ''
  })

// ── metrics$: a throughput chart per peer (uPlot) and a progress bar per core ─────────────────
/** Samples kept on the chart. */
const WINDOW = 120
const COLORS = ['#3559e0', '#e8590c', '#2f9e44', '#ae3ec9', '#1098ad', '#f08c00', '#c2255c', '#5c940d']
const rate = (bytes) =>
  bytes == null
    ? '–'
    : bytes >= 1048576
      ? `${(bytes / 1048576).toFixed(1)} MB/s`
      : bytes >= 1024
        ? `${(bytes / 1024).toFixed(1)} KB/s`
        : `${Math.round(bytes)} B/s`
const peerLabel = (key) => names[key] ?? short(key)

// The chart's data, uPlot's column layout: [times (s), then per peer: in, out], `null` while absent.
const traffic = { at: [], peers: new Map() }
let chart = null
let chartKeys = ''
let samples = 0
// For tests and the curious: the chart, its data and the samples drawn so far.
window.__dashboard = {
  get chart() {
    return chart
  },
  get samples() {
    return samples
  }
}

const record = (sample) => {
  samples++
  traffic.at.push(sample.at / 1000)
  const length = traffic.at.length
  for (const [key, peer] of Object.entries(sample.peers)) {
    if (!traffic.peers.has(key)) traffic.peers.set(key, { in: Array(length - 1).fill(null), out: Array(length - 1).fill(null) })
    const series = traffic.peers.get(key)
    series.in.push(peer.bytesInPerSecond)
    series.out.push(peer.bytesOutPerSecond)
  }
  for (const [key, series] of traffic.peers) {
    if (series.in.length < length) {
      series.in.push(null)
      series.out.push(null)
    }
  }
  if (length > WINDOW) {
    traffic.at.shift()
    for (const series of traffic.peers.values()) {
      series.in.shift()
      series.out.shift()
    }
  }
  // A peer gone for the whole window leaves the chart.
  for (const [key, series] of traffic.peers) if (series.in.every((v) => v === null)) traffic.peers.delete(key)
}

const renderChart = () => {
  const keys = [...traffic.peers.keys()]
  const data = [traffic.at, ...keys.flatMap((key) => [traffic.peers.get(key).in, traffic.peers.get(key).out])]
  $('chart-empty').hidden = traffic.at.length > 0
  if (chart !== null && keys.join() === chartKeys) {
    chart.setData(data)
    return
  }
  // The set of peers changed: a chart with their series.
  chart?.destroy()
  chartKeys = keys.join()
  const series = [
    {},
    ...keys.flatMap((key, i) => {
      const stroke = COLORS[i % COLORS.length]
      return [
        { label: `${peerLabel(key)} in`, stroke, width: 2, value: (u, v) => rate(v) },
        { label: `${peerLabel(key)} out`, stroke, width: 1.5, dash: [6, 4], value: (u, v) => rate(v) }
      ]
    })
  ]
  chart = new uPlot(
    {
      width: Math.max(320, $('chart').clientWidth),
      height: 220,
      series,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1024, max)] } },
      axes: [{}, { size: 80, values: (u, values) => values.map(rate) }]
    },
    data,
    $('chart')
  )
}

const renderCores = (cores) => {
  $('cores').replaceChildren(
    ...cores.map((core) => {
      const percent = Math.round(core.progress * 1000) / 10
      const eta = core.etaSeconds === null ? '' : ` · ${Math.ceil(core.etaSeconds)} s left`
      const state = core.synced ? (core.peers > 0 ? 'synced' : 'no peers') : `${rate(core.bytesDownPerSecond)}${eta}`
      return el('li', { dataset: { key: core.discoveryKey, progress: String(core.progress), synced: String(core.synced) } }, [
        el('span', { class: 'key', title: core.discoveryKey, text: short(core.discoveryKey) }),
        el('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(percent) }, [
          el('div', { class: 'fill', style: `width: ${percent}%` })
        ]),
        el('span', {
          class: 'detail',
          text: `${percent}% · ${core.contiguousLength}/${core.remoteLength || core.length} blocks · ${core.peers} peer${core.peers === 1 ? '' : 's'} · ${state}`
        })
      ])
    })
  )
  $('core-count').textContent = String(cores.length)
  $('cores-empty').hidden = cores.length > 0
}

networker.metrics$({ interval: METRICS_INTERVAL }).subscribe((sample) => {
  record(sample)
  renderChart()
  renderCores(Object.values(sample.cores).sort((a, b) => a.discoveryKey.localeCompare(b.discoveryKey)))
})
