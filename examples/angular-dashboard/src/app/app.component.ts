import { AsyncPipe, SlicePipe } from '@angular/common'
import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core'
import { FormControl, FormGroup, ReactiveFormsModule, Validators } from '@angular/forms'
import type { RemoteCoreMetrics } from '@basestore/networker/remote'
import { NetworkerService } from './networker.service'
import { formatRate } from './rate.pipe'
import { TrafficChartComponent } from './traffic-chart.component'

@Component({
  selector: 'app-root',
  imports: [AsyncPipe, SlicePipe, ReactiveFormsModule, TrafficChartComponent],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <header>
      <h1>&#64;basestore/networker</h1>
      <span class="key" id="self">{{ net.server()?.publicKey | slice: 0 : 12 }}</span>
      <span class="status" id="status" [attr.data-state]="net.connection()" [attr.data-code]="closeCode()">
        {{ net.connection() }}
      </span>
    </header>
    <main>
      <section class="wide">
        <h2>Throughput per peer <span class="hint">metrics$ · bytes/s in (solid) and out (dashed)</span></h2>
        <app-traffic-chart [traffic]="net.traffic()" />
      </section>
      <section class="wide">
        <h2>Cores <span id="core-count">{{ cores().length }}</span> <span class="hint">metrics$ · replication progress</span></h2>
        <ul id="cores">
          @for (core of cores(); track core.discoveryKey) {
            <li [attr.data-key]="core.discoveryKey" [attr.data-progress]="core.progress" [attr.data-synced]="core.synced">
              <span class="key" [title]="core.discoveryKey">{{ core.discoveryKey | slice: 0 : 16 }}…</span>
              <div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" [attr.aria-valuenow]="core.percent">
                <div class="fill" [style.width.%]="core.percent"></div>
              </div>
              <span class="detail">{{ core.detail }}</span>
            </li>
          } @empty {
            <li class="empty">No core is being replicated.</li>
          }
        </ul>
      </section>
      <div>
        <section>
          <h2>Peers <span id="peer-count">{{ net.peers().length }}</span></h2>
          <table id="peers">
            <tbody>
              @for (peer of net.peers(); track peer.remotePublicKey) {
                <tr [attr.data-key]="peer.remotePublicKey">
                  <td class="key">{{ peer.remotePublicKey | slice: 0 : 16 }}…</td>
                  <td>{{ peer.remoteAddress }}</td>
                </tr>
              }
            </tbody>
          </table>
        </section>
        <section>
          <h2>Messages</h2>
          <ol id="messages">
            @for (entry of net.messages$ | async; track $index) {
              <li>
                <span class="key">{{ entry.peer.remotePublicKey | slice: 0 : 8 }}</span>
                <span class="text">{{ text(entry.message) }}</span>
              </li>
            }
          </ol>
        </section>
      </div>
      <div>
        <section>
          <h2>Topics <span id="topic-count">{{ net.topics().length }}</span></h2>
          <ul id="topics">
            @for (topic of net.topics(); track topic.discoveryKey) {
              <li [attr.data-key]="topic.discoveryKey" [attr.data-flushed]="topic.flushed">
                <span class="key">{{ topic.discoveryKey | slice: 0 : 16 }}…</span>
                <span class="flag" [class.on]="topic.announce">announce</span>
                <span class="flag" [class.on]="topic.lookup">lookup</span>
                <span class="flag" [class.on]="topic.joined">joined</span>
                <span class="flag" [class.on]="topic.flushed">flushed</span>
              </li>
            }
          </ul>
          @if (net.server()?.commands) {
            <form id="configure" [formGroup]="form" (ngSubmit)="configure()">
              <input id="topic" formControlName="topic" placeholder="discovery key, 64 hex" spellcheck="false" />
              <label><input type="checkbox" id="announce" formControlName="announce" /> announce</label>
              <label><input type="checkbox" id="lookup" formControlName="lookup" /> lookup</label>
              <button type="submit" [disabled]="form.invalid">configure</button>
              <output id="configure-result" [class.error]="result().error">{{ result().text }}</output>
            </form>
          }
        </section>
      </div>
    </main>
  `
})
export class AppComponent {
  protected readonly net = inject(NetworkerService)
  protected readonly result = signal({ text: '', error: false })
  protected readonly form = new FormGroup({
    topic: new FormControl('', { nonNullable: true, validators: [Validators.pattern(/^[0-9a-fA-F]{64}$/)] }),
    announce: new FormControl(true, { nonNullable: true }),
    lookup: new FormControl(true, { nonNullable: true })
  })

  /** Each core with its bar's percent (one decimal) and its line of text. */
  protected readonly cores = computed(() => this.net.cores().map((core) => ({ ...core, ...coreView(core) })))

  protected closeCode(): number | null {
    return this.net.connection() === 'closed' ? this.net.closeCode : null
  }

  protected async configure(): Promise<void> {
    const { topic, announce, lookup } = this.form.getRawValue()
    try {
      const state = await this.net.configure(topic.toLowerCase(), { announce, lookup, flush: false })
      this.result.set({ text: `configured ${state.discoveryKey.slice(0, 8)}: ${state.joined ? 'joined' : 'left'}`, error: false })
      this.form.controls.topic.reset()
    } catch (err) {
      this.result.set({ text: `error: ${err instanceof Error ? err.message : String((err as { message?: string }).message ?? err)}`, error: true })
    }
  }

  protected text(message: unknown): string {
    if (typeof message === 'string') return message
    if (message !== null && typeof message === 'object' && 'text' in message && typeof message.text === 'string') return message.text
    return JSON.stringify(message)
  }
}

/** "N% · contiguous/remote blocks · peers · rate (and time left) or synced", as the plain dashboard. */
function coreView(core: RemoteCoreMetrics): { percent: number; detail: string } {
  const percent = Math.round(core.progress * 1000) / 10
  const eta = core.etaSeconds === null ? '' : ` · ${Math.ceil(core.etaSeconds)} s left`
  const state = core.synced ? (core.peers > 0 ? 'synced' : 'no peers') : `${formatRate(core.bytesDownPerSecond)}${eta}`
  const peers = `${core.peers} peer${core.peers === 1 ? '' : 's'}`
  return { percent, detail: `${percent}% · ${core.contiguousLength}/${core.remoteLength || core.length} blocks · ${peers} · ${state}` }
}
