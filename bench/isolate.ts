/// <reference path="../types/index.d.ts" preserve="true" />
import { fork } from 'child_process'
import type { LocalNetwork } from '../lib/testnet'
import { loopbackNode } from './common'

/**
 * Runs one trial in a fresh Node process, so that its RSS figures start from a clean process
 * instead of one whose earlier trials left pages behind. The child joins the parent's loopback
 * network (its bootstrap list), runs the named trial and sends the result back.
 *
 * Trials are named `'<scenario>:<export>'` and looked up in {@link TRIALS}; their arguments and
 * results must be JSON.
 */
export async function isolated<R>(net: LocalNetwork, task: TaskName, args: readonly unknown[]): Promise<R> {
  const child = fork(__filename, [], {
    execArgv: ['--expose-gc', '-r', 'ts-node/register/transpile-only'],
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const request: Request = { task, bootstrap: net.bootstrap.map(({ host, port }) => ({ host, port })), args: [...args] }
  return new Promise<R>((resolve, reject) => {
    let settled = false
    child.once('message', (message: unknown) => {
      settled = true
      const reply = message as Reply
      if (reply.ok) resolve(reply.result as R)
      else reject(new Error(`isolated ${task} failed: ${reply.error}`))
    })
    child.once('error', (err) => {
      if (!settled) reject(err)
      settled = true
    })
    child.once('exit', (code) => {
      if (!settled) reject(new Error(`isolated ${task} exited with ${code} before replying`))
      settled = true
    })
    child.send(request)
  })
}

export type TaskName = 'peers:oursTrial' | 'peers:rawTrial' | 'topics:oursTrial' | 'topics:rawTrial'

interface Request {
  task: TaskName
  bootstrap: Array<{ host: string; port: number }>
  args: unknown[]
}

type Reply = { ok: true; result: unknown } | { ok: false; error: string }

type TrialFunction = (net: LocalNetwork, ...args: never[]) => Promise<unknown>

/** Loaded lazily in the child, so the parent never imports a scenario from here. */
const TRIALS: Record<TaskName, () => Promise<TrialFunction>> = {
  'peers:oursTrial': async () => (await import('./peers')).oursTrial as TrialFunction,
  'peers:rawTrial': async () => (await import('./peers')).rawTrial as TrialFunction,
  'topics:oursTrial': async () => (await import('./topics')).oursTrial as TrialFunction,
  'topics:rawTrial': async () => (await import('./topics')).rawTrial as TrialFunction
}

async function serve(request: Request): Promise<unknown> {
  const bootstrap = Object.freeze(request.bootstrap.map((node) => Object.freeze({ ...node })))
  const net: LocalNetwork = {
    bootstrap,
    swarmOptions: () => ({ dht: loopbackNode(net) }),
    destroy: async () => {}
  }
  const run = await TRIALS[request.task]()
  return (run as (net: LocalNetwork, ...args: unknown[]) => Promise<unknown>)(net, ...request.args)
}

if (require.main === module && typeof process.send === 'function') {
  process.once('message', (message: unknown) => {
    serve(message as Request).then(
      (result) => process.send?.({ ok: true, result } satisfies Reply, () => process.exit(0)),
      (err: unknown) =>
        process.send?.({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies Reply, () =>
          process.exit(1)
        )
    )
  })
}
