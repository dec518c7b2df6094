import { SlicePipe } from '@angular/common'
import {
  ChangeDetectionStrategy,
  Component,
  DestroyRef,
  ElementRef,
  afterNextRender,
  afterRenderEffect,
  inject,
  input,
  viewChild
} from '@angular/core'
import uPlot from 'uplot'
import { RatePipe, formatRate } from './rate.pipe'
import type { Traffic } from './traffic'

/** A color per peer, in the order the peers came on the chart. */
const COLORS = ['#3559e0', '#e8590c', '#2f9e44', '#ae3ec9', '#1098ad', '#f08c00', '#c2255c', '#5c940d']
const HEIGHT = 220
const color = (i: number): string => COLORS[i % COLORS.length]

/**
 * The live throughput chart: per peer one uPlot line of the bytes/s it sent us (in, solid) and
 * one of what we sent it (out, dashed), over the window of samples the service keeps.
 *
 * uPlot is created once the template has rendered (it measures its container), gets `setData` on
 * each sample, is rebuilt when the set of peers changes, follows the container's width (a
 * `ResizeObserver`) and is destroyed with the component. The host element carries what was
 * drawn, for tests and the curious: `data-samples` (samples drawn so far) and `data-series`
 * (uPlot's series, x excluded); the legend shows each peer's latest rates (`data-in`,
 * `data-out`, bytes/s).
 */
@Component({
  selector: 'app-traffic-chart',
  imports: [RatePipe, SlicePipe],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <div class="plot" #plot></div>
    @if (traffic().samples === 0) {
      <p class="empty">No traffic sample yet.</p>
    }
    <ul class="legend">
      @for (peer of traffic().peers; track peer.key; let i = $index) {
        <li [attr.data-key]="peer.key" [attr.data-in]="peer.in.at(-1)" [attr.data-out]="peer.out.at(-1)">
          <span class="swatch" [style.background]="color(i)"></span>
          <span class="key">{{ peer.key | slice: 0 : 8 }}</span>
          in {{ peer.in.at(-1) | rate }} · out {{ peer.out.at(-1) | rate }}
        </li>
      }
    </ul>
  `
})
export class TrafficChartComponent {
  readonly traffic = input.required<Traffic>()
  protected readonly color = color
  private readonly host: HTMLElement = inject(ElementRef).nativeElement
  private readonly plot = viewChild.required<ElementRef<HTMLElement>>('plot')
  private chart: uPlot | null = null
  /** The peers the current chart has series for. */
  private chartKeys = ''

  constructor() {
    afterRenderEffect({
      earlyRead: () => widthOf(this.plot().nativeElement),
      write: (width) => this.draw(this.traffic(), width())
    })
    // The chart follows its container's width (window resizes, layout changes).
    const resized = new ResizeObserver(() => this.chart?.setSize({ width: widthOf(this.plot().nativeElement), height: HEIGHT }))
    afterNextRender(() => resized.observe(this.plot().nativeElement))
    inject(DestroyRef).onDestroy(() => {
      resized.disconnect()
      this.chart?.destroy()
    })
  }

  private draw(traffic: Traffic, width: number): void {
    const data: uPlot.AlignedData = [[...traffic.at], ...traffic.peers.flatMap((peer) => [[...peer.in], [...peer.out]])]
    const keys = traffic.peers.map((peer) => peer.key).join()
    if (this.chart !== null && keys === this.chartKeys) {
      this.chart.setData(data)
    } else {
      this.chart?.destroy()
      this.chartKeys = keys
      this.chart = new uPlot(chartOptions(traffic, width), data, this.plot().nativeElement)
    }
    this.host.setAttribute('data-samples', String(traffic.samples))
    this.host.setAttribute('data-series', String(this.chart.series.length - 1))
  }
}

/** The width the chart takes in `element`: all of it, at least 320 px. */
function widthOf(element: HTMLElement): number {
  return Math.max(320, element.clientWidth)
}

/** A chart with two series per peer (labelled by the first 8 hex of its key), y in B/s, KB/s, MB/s. */
function chartOptions(traffic: Traffic, width: number): uPlot.Options {
  return {
    width,
    height: HEIGHT,
    legend: { show: false },
    scales: { x: { time: true }, y: { range: (_chart, _min, max) => [0, Math.max(1024, max)] } },
    axes: [{}, { size: 80, values: (_chart, splits) => splits.map((split) => formatRate(split)) }],
    series: [
      {},
      ...traffic.peers.flatMap((peer, i) => [
        { label: `${peer.key.slice(0, 8)} in`, stroke: color(i), width: 2 },
        { label: `${peer.key.slice(0, 8)} out`, stroke: color(i), width: 1.5, dash: [6, 4] }
      ])
    ]
  }
}
