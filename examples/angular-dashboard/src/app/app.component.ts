import { AsyncPipe, SlicePipe } from '@angular/common'
import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core'
import { FormControl, FormGroup, ReactiveFormsModule, Validators } from '@angular/forms'
import { NetworkerService } from './networker.service'

@Component({
  selector: 'app-root',
  imports: [AsyncPipe, SlicePipe, ReactiveFormsModule],
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
