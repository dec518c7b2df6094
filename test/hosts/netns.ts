import { execFileSync } from 'child_process'

/**
 * Test hosts on one machine: a switch namespace with a bridge, and one namespace per host with
 * its own address on 10.77.0.0/24, linked to the bridge by a veth pair. Nothing is created in
 * the machine's own namespace, so no traffic can leave the test's namespaces.
 */
export interface Topology {
  readonly hosts: ReadonlyArray<{ readonly ns: string; readonly address: string; readonly port: string }>
  /** Runs a command inside a host (argv after `ip netns exec NS`). */
  exec(host: number): string[]
  /** Takes a host's link down (`up = false`) or up at the switch. */
  link(host: number, up: boolean): void
  destroy(): void
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' })
}

export function createTopology(count: number): Topology {
  const prefix = `nw${process.pid % 100000}`
  const sw = `${prefix}sw`
  const hosts = Array.from({ length: count }, (_, i) => ({
    ns: `${prefix}h${i}`,
    address: `10.77.0.${i + 1}`,
    port: `s${i}`
  }))
  const created: string[] = []
  const destroy = (): void => {
    for (const ns of created.splice(0).reverse()) {
      try {
        ip('netns', 'del', ns)
      } catch {
        // already gone
      }
    }
  }
  try {
    ip('netns', 'add', sw)
    created.push(sw)
    ip('-n', sw, 'link', 'set', 'lo', 'up')
    ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge')
    ip('-n', sw, 'link', 'set', 'br0', 'up')
    for (const host of hosts) {
      ip('netns', 'add', host.ns)
      created.push(host.ns)
      ip('link', 'add', 'name', 'eth0', 'netns', host.ns, 'type', 'veth', 'peer', 'name', host.port, 'netns', sw)
      ip('-n', sw, 'link', 'set', host.port, 'master', 'br0')
      ip('-n', sw, 'link', 'set', host.port, 'up')
      ip('-n', host.ns, 'link', 'set', 'lo', 'up')
      ip('-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0')
      ip('-n', host.ns, 'link', 'set', 'eth0', 'up')
    }
  } catch (err) {
    destroy()
    throw err
  }
  return {
    hosts,
    exec: (i) => ['ip', 'netns', 'exec', hosts[i].ns],
    link: (i, up) => ip('-n', sw, 'link', 'set', hosts[i].port, up ? 'up' : 'down'),
    destroy
  }
}
