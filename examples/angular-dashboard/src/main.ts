import { provideZonelessChangeDetection } from '@angular/core'
import { bootstrapApplication } from '@angular/platform-browser'
import { AppComponent } from './app/app.component'
import { NETWORKER_CONFIG } from './app/networker.service'

// The server, token and metrics interval come from the page's hash
// (#server=ws://…&token=…&interval=200); by default the networker endpoint of the server that
// served the page, sampled at the networker's default interval.
const params = new URLSearchParams(location.hash.slice(1))
const interval = metricsInterval(params.get('interval'))
const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'

bootstrapApplication(AppComponent, {
  providers: [
    provideZonelessChangeDetection(),
    {
      provide: NETWORKER_CONFIG,
      useValue: {
        url: params.get('server') ?? `${scheme}//${location.host}/networker`,
        token: params.get('token') ?? undefined,
        metricsInterval: interval
      }
    }
  ]
}).catch((err: unknown) => console.error(err))

/** The hash's interval in ms: a finite number of at least 100 (what `metrics$` accepts), else the default. */
function metricsInterval(value: string | null): number | undefined {
  if (value === null) return undefined
  const ms = Number(value)
  if (Number.isFinite(ms) && ms >= 100) return ms
  console.warn(`#interval=${value} ignored: metrics are sampled every 100 ms or more; using the default`)
  return undefined
}
