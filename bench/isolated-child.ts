/**
 * The child process of `isolated` (bench/isolate.ts): receives one request, runs the named trial
 * on the parent's loopback network, sends the result back and exits.
 */
import { loopbackNode, type LocalNetwork } from '../lib/testnet'
import type { IsolatedReply, IsolatedRequest, TaskName } from './isolate'

type TrialFunction = (net: LocalNetwork, ...args: never[]) => Promise<unknown>

/** Loaded lazily, so a child loads only the scenario it runs. */
const TRIALS: Record<TaskName, () => Promise<TrialFunction>> = {
  'peers:oursTrial': async () => (await import('./peers')).oursTrial as TrialFunction,
  'peers:rawTrial': async () => (await import('./peers')).rawTrial as TrialFunction,
  'topics:oursTrial': async () => (await import('./topics')).oursTrial as TrialFunction,
  'topics:rawTrial': async () => (await import('./topics')).rawTrial as TrialFunction
}

async function serve(request: IsolatedRequest): Promise<unknown> {
  const bootstrap = Object.freeze(request.bootstrap.map((node) => Object.freeze({ ...node })))
  // The parent's network as `createLocalNetwork` describes it (the trials dial their own nodes).
  const net: LocalNetwork = {
    bootstrap,
    swarmOptions: () => ({ dht: loopbackNode(bootstrap) }),
    destroy: async () => {}
  }
  const run = await TRIALS[request.task]()
  return (run as (net: LocalNetwork, ...args: unknown[]) => Promise<unknown>)(net, ...request.args)
}

if (require.main === module && typeof process.send === 'function') {
  process.once('message', (message: unknown) => {
    serve(message as IsolatedRequest).then(
      (result) => process.send?.({ ok: true, result } satisfies IsolatedReply, () => process.exit(0)),
      (err: unknown) =>
        process.send?.({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies IsolatedReply, () =>
          process.exit(1)
        )
    )
  })
}
