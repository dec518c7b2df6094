import { BehaviorSubject, Observable } from 'rxjs'

/**
 * A state stream: the subject's current value on subscribe, then its changes; once it completed,
 * a late subscriber still gets the last value, then completion (so `toSignal(…, { requireSync:
 * true })` and `firstValueFrom` work on a closed networker).
 */
export function lastingState<T>(subject: BehaviorSubject<T>): Observable<T> {
  return new Observable<T>((subscriber) => {
    // A BehaviorSubject hands a subscriber its value first, unless it already completed.
    let delivered = false
    return subject.subscribe({
      next: (value) => {
        delivered = true
        subscriber.next(value)
      },
      error: (err: unknown) => subscriber.error(err),
      complete: () => {
        if (!delivered) subscriber.next(subject.getValue())
        subscriber.complete()
      }
    })
  })
}
