import path from 'path'
import { fork } from 'child_process'
import type { LocalNetwork } from '../lib/testnet'

/**
 * Runs one trial in a fresh Node process, so that its RSS figures start from a clean process
 * instead of one whose earlier trials left pages behind. The child (bench/isolated-child.ts)
 * joins the parent's loopback network (its bootstrap list), runs the named trial and sends the
 * result back.
 *
 * Trials are named `'<scenario>:<export>'`; their arguments and results must be JSON. This file
 * imports no scenario, so a scenario can import it without a cycle.
 */
export async function isolated<R>(net: LocalNetwork, task: TaskName, args: readonly unknown[]): Promise<R> {
  const child = fork(path.join(__dirname, 'isolated-child.ts'), [], {
    execArgv: ['--expose-gc', '-r', 'ts-node/register/transpile-only'],
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const request: IsolatedRequest = { task, bootstrap: net.bootstrap.map(({ host, port }) => ({ host, port })), args: [...args] }
  return new Promise<R>((resolve, reject) => {
    let settled = false
    child.once('message', (message: unknown) => {
      settled = true
      const reply = message as IsolatedReply
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

/** What the parent sends the child. */
export interface IsolatedRequest {
  task: TaskName
  bootstrap: Array<{ host: string; port: number }>
  args: unknown[]
}

/** What the child sends back. */
export type IsolatedReply = { ok: true; result: unknown } | { ok: false; error: string }
