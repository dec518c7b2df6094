import { Injectable, InjectionToken, OnDestroy, inject } from '@angular/core'
import { toSignal } from '@angular/core/rxjs-interop'
import { EMPTY, map, scan, shareReplay, startWith, switchMap } from 'rxjs'
import {
  connectNetworker,
  type RemoteConfigureOptions,
  type RemoteCoreMetrics,
  type RemoteMessage,
  type RemoteNetworker,
  type RemoteTopicState
} from '@basestore/networker/remote'
import { NO_TRAFFIC, addSample } from './traffic'

/** Where the networker's server is, its token, and ms between metrics samples (default 1000). */
export interface NetworkerConfig {
  readonly url: string
  readonly token?: string
  readonly metricsInterval?: number
}

export const NETWORKER_CONFIG = new InjectionToken<NetworkerConfig>('NETWORKER_CONFIG')

/** One remote networker for the whole app: its streams as signals, and its commands. */
@Injectable({ providedIn: 'root' })
export class NetworkerService implements OnDestroy {
  private readonly config = inject(NETWORKER_CONFIG)
  readonly networker: RemoteNetworker = connectNetworker(this.config.url, { token: this.config.token })

  readonly connection = toSignal(this.networker.connection$, { initialValue: 'connecting' as const })
  readonly server = toSignal(this.networker.server$, { initialValue: null })
  readonly peers = toSignal(this.networker.peers$, { initialValue: [] })
  readonly topics = toSignal(this.networker.topics$.pipe(map((topics) => [...topics.values()])), {
    initialValue: [] as RemoteTopicState[]
  })

  /** The last 50 messages of the first published extension, newest first (for the async pipe). */
  readonly messages$ = this.networker.server$.pipe(
    switchMap((server) => (server.extensions.length > 0 ? this.networker.messages$(server.extensions[0]) : EMPTY)),
    scan((log: RemoteMessage[], message) => [message, ...log].slice(0, 50), []),
    startWith([] as RemoteMessage[]),
    shareReplay({ bufferSize: 1, refCount: true })
  )

  /** One metrics$ subscription shared by the chart and the bars (the last sample replayed). */
  readonly metrics$ = this.networker
    .metrics$({ interval: this.config.metricsInterval })
    .pipe(shareReplay({ bufferSize: 1, refCount: true }))
  /** The throughput chart's window of samples (traffic.ts: a pure reducer). */
  readonly traffic = toSignal(this.metrics$.pipe(scan(addSample, NO_TRAFFIC)), { initialValue: NO_TRAFFIC })
  /** The cores being replicated, by discovery key. */
  readonly cores = toSignal(
    this.metrics$.pipe(map((sample) => Object.values(sample.cores).sort((a, b) => a.discoveryKey.localeCompare(b.discoveryKey)))),
    { initialValue: [] as RemoteCoreMetrics[] }
  )

  /** How the connection ended, once it did (4401: wrong token, 4403: origin refused, …). */
  get closeCode(): number | null {
    return this.networker.closeInfo?.code ?? null
  }

  configure(topic: string, opts: RemoteConfigureOptions): Promise<RemoteTopicState> {
    return this.networker.configure(topic, opts)
  }

  ngOnDestroy(): void {
    this.networker.close()
  }
}
