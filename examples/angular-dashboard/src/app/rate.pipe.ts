import { Pipe, type PipeTransform } from '@angular/core'

/** Bytes per second for people: `512 B/s`, `3.2 KB/s`, `5.3 MB/s` (1024-based); `–` for none. */
export function formatRate(bytesPerSecond: number | null | undefined): string {
  if (bytesPerSecond === null || bytesPerSecond === undefined) return '–'
  if (bytesPerSecond >= 1048576) return `${(bytesPerSecond / 1048576).toFixed(1)} MB/s`
  if (bytesPerSecond >= 1024) return `${(bytesPerSecond / 1024).toFixed(1)} KB/s`
  return `${Math.round(bytesPerSecond)} B/s`
}

/** `{{ bytesPerSecond | rate }}`: `formatRate` in a template. */
@Pipe({ name: 'rate' })
export class RatePipe implements PipeTransform {
  transform(bytesPerSecond: number | null | undefined): string {
    return formatRate(bytesPerSecond)
  }
}
