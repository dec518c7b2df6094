// The dashboard page: Server-Sent Events from /events turned into RxJS streams, rendered live.
// RxJS comes from its UMD bundle (the global `rxjs`); no bundler, no framework.
'use strict'
;(() => {
  const { Observable, BehaviorSubject, fromEvent, of } = rxjs
  const { filter, map, scan, share, startWith, exhaustMap, catchError, takeWhile, tap } = rxjs
  const { fromFetch } = rxjs.fetch

  const EVENT_TYPES = ['hello', 'peers', 'topics', 'message', 'failure', 'end']
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

  // ── the event stream ──────────────────────────────────────────────────────────────────────
  const status$ = new BehaviorSubject('connecting')

  /** Cold: each subscription opens one EventSource; unsubscribing closes it. */
  const serverEvents$ = new Observable((subscriber) => {
    const source = new EventSource('/events')
    const listeners = EVENT_TYPES.map((type) => {
      const listener = (event) => subscriber.next({ type, data: JSON.parse(event.data) })
      source.addEventListener(type, listener)
      return [type, listener]
    })
    source.onopen = () => status$.next('live')
    source.onerror = () => status$.next(source.readyState === EventSource.CLOSED ? 'ended' : 'reconnecting')
    return () => {
      for (const [type, listener] of listeners) source.removeEventListener(type, listener)
      source.close()
    }
  })

  // `end` (the networker closed) completes the stream, which closes the EventSource.
  const events$ = serverEvents$.pipe(
    takeWhile((event) => event.type !== 'end', true),
    tap({ next: ({ type }) => type === 'end' && status$.next('ended') }),
    share()
  )
  const ofType = (type) => events$.pipe(filter((event) => event.type === type), map((event) => event.data))

  // ── formatting ────────────────────────────────────────────────────────────────────────────
  const short = (hex) => `${hex.slice(0, 8)}…${hex.slice(-4)}`
  const bytes = (n) => {
    if (typeof n !== 'number') return '–'
    if (n < 1024) return `${n} B`
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
    return `${(n / (1024 * 1024)).toFixed(1)} MiB`
  }
  const age = (ms) => {
    const s = Math.floor(ms / 1000)
    if (s < 60) return `${s}s`
    if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`
    return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
  }
  const clock = (at) => new Date(at).toLocaleTimeString([], { hour12: false })
  // A string as is; an object with a `text` field (a chat line) by its text; anything else as JSON.
  const text = (message) =>
    typeof message === 'string'
      ? message
      : message !== null && typeof message === 'object' && typeof message.text === 'string'
        ? message.text
        : JSON.stringify(message)

  // ── renderers (each takes the whole state it shows) ───────────────────────────────────────
  const renderPeers = ({ rows, fresh }) => {
    const body = $('peers').tBodies[0]
    body.replaceChildren(
      ...rows.map((row) =>
        el('tr', { dataset: { key: row.key, bytesIn: row.bytesIn, bytesOut: row.bytesOut }, class: fresh.has(row.key) ? 'fresh' : '' }, [
          el('td', { class: 'key', title: row.key }, [
            ...(row.name ? [el('span', { class: 'name', text: row.name })] : []),
            short(row.key)
          ]),
          el('td', { text: row.address }),
          el('td', { class: 'num', text: bytes(row.bytesIn) }),
          el('td', { class: 'num', text: bytes(row.bytesOut) }),
          el('td', { class: 'num', text: age(row.age) })
        ])
      )
    )
    $('peer-count').textContent = String(rows.length)
    $('peers-empty').hidden = rows.length > 0
  }

  const flag = (name, on) => el('span', { class: on ? 'flag on' : 'flag', text: name })
  const renderTopics = (topics) => {
    $('topics').replaceChildren(
      ...topics.map((topic) =>
        el(
          'li',
          {
            dataset: {
              key: topic.key,
              announce: String(topic.announce),
              lookup: String(topic.lookup),
              joined: String(topic.joined),
              flushed: String(topic.flushed)
            }
          },
          [
            el('span', { class: 'key', title: topic.key, text: topic.key }),
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
          el('span', { class: 'from', title: entry.from, text: entry.name ?? short(entry.from) }),
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

  // ── pipelines ─────────────────────────────────────────────────────────────────────────────
  status$.subscribe((state) => {
    $('status').dataset.state = state
    $('status').textContent = state
  })

  ofType('hello').subscribe(({ publicKey, extension }) => {
    $('self').textContent = publicKey ? `this peer ${short(publicKey)}` : 'not listening yet'
    $('self').title = publicKey ?? ''
    $('extension').textContent = extension ? `extension “${extension}”` : 'no extension'
  })

  // Rows that were not in the previous set are "fresh" (highlighted once).
  ofType('peers')
    .pipe(
      scan(
        (previous, rows) => {
          const keys = new Set(rows.map((row) => row.key))
          const fresh = new Set([...keys].filter((key) => !previous.keys.has(key)))
          return { rows, keys, fresh }
        },
        { rows: [], keys: new Set(), fresh: new Set() }
      )
    )
    .subscribe(renderPeers)

  ofType('topics').subscribe(renderTopics)

  /** The newest `MAX_LOG` values, newest first. */
  const latest = (source$) =>
    source$.pipe(
      scan((log, entry) => [entry, ...log].slice(0, MAX_LOG), []),
      startWith([])
    )
  latest(ofType('message')).subscribe(renderLog)
  latest(ofType('failure')).subscribe(renderFailures)

  // The form: POST /topics as JSON; ignore submits while one is in flight.
  const form = $('configure')
  const result = $('configure-result')
  fromEvent(form, 'submit')
    .pipe(
      tap((event) => event.preventDefault()),
      map(() => ({
        topic: $('topic').value.trim().toLowerCase(),
        announce: $('announce').checked,
        lookup: $('lookup').checked
      })),
      exhaustMap((body) =>
        fromFetch('/topics', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          selector: (response) => response.json().then((json) => ({ ok: response.ok, json }))
        }).pipe(catchError((err) => of({ ok: false, json: { error: String(err) } })))
      )
    )
    .subscribe(({ ok, json }) => {
      result.classList.toggle('error', !ok)
      result.textContent = ok ? `configured ${short(json.key)}: ${json.joined ? 'joined' : 'left'}` : `error: ${json.error}`
      if (ok) $('topic').value = ''
    })
})()
