/**
 * Garbage collection and memory figures, for leak audits in tests and memory figures in
 * benchmarks. Node exposes `gc` only with `--expose-gc`; without it, the flag is set at runtime
 * and `gc` read from a new context.
 */
import v8 from 'v8'
import vm from 'vm'

let gcFn: (() => void) | null | undefined

/** `global.gc` (from `--expose-gc`, or enabled at runtime), or null if neither works. */
export function getGc(): (() => void) | null {
  if (gcFn !== undefined) return gcFn
  const exposed = (globalThis as { gc?: () => void }).gc
  if (typeof exposed === 'function') return (gcFn = exposed)
  try {
    v8.setFlagsFromString('--expose-gc')
    const fn: unknown = vm.runInNewContext('gc')
    gcFn = typeof fn === 'function' ? (fn as () => void) : null
  } catch {
    gcFn = null
  }
  return gcFn
}

/** Runs a full collection (twice, so finalizers of the first can free more) when possible. */
export function collectGarbage(): void {
  const gc = getGc()
  if (gc === null) return
  gc()
  gc()
}

/** Heap used, RSS and memory outside the V8 heap (buffers), after a full collection when possible. */
export function memory(): { heapUsed: number; rss: number; external: number } {
  collectGarbage()
  const { heapUsed, rss, external, arrayBuffers } = process.memoryUsage()
  return { heapUsed, rss, external: external + arrayBuffers }
}

/**
 * Bytes allocated on the V8 heap while `fn` runs: heap growth between collections, summed over
 * every collection V8 ran meanwhile (`v8.GCProfiler`), so a collection does not hide what was
 * allocated before it.
 */
export function measureAllocation<T>(fn: () => T): { result: T; bytes: number } {
  collectGarbage()
  const profiler = new v8.GCProfiler()
  const start = v8.getHeapStatistics().used_heap_size
  profiler.start()
  const result = fn()
  const end = v8.getHeapStatistics().used_heap_size
  const data = profiler.stop()
  let bytes = 0
  let last = start
  for (const entry of data.statistics) {
    bytes += entry.beforeGC.heapStatistics.usedHeapSize - last
    last = entry.afterGC.heapStatistics.usedHeapSize
  }
  bytes += end - last
  return { result, bytes: Math.max(0, bytes) }
}
