import { execFileSync } from 'child_process'

/**
 * Test hosts on one machine: a switch namespace with a bridge, and one namespace per host with
 * its own address on 10.77.0.0/24, linked to the bridge by a veth pair. Nothing is created in
 * the machine's own namespace, so no traffic can leave the test's namespaces.
 */
export interface Topology {
  readonly hosts: ReadonlyArray<{ readonly ns: string; readonly address: string; readonly port: string; readonly mac: string }>
  /** Runs a command inside a host (argv after `ip netns exec NS`). */
  exec(host: number): string[]
  /** Takes hosts' links down (`up = false`) or up at the switch, all in one `ip` call. */
  link(host: number | readonly number[], up: boolean): void
  /** Deletes every namespace (processes still inside keep theirs until they exit). Idempotent. */
  destroy(): void
}

/** Options of {@link createTopology}. */
export interface TopologyOptions {
  /**
   * Adds a permanent neighbour (ARP) entry for every other host in every host, so no host
   * resolves an address at run time. The kernel keeps one neighbour table for all namespaces
   * (`gc_thresh3`, 1,024 entries by default, settable only from the machine's own namespace);
   * a mesh of 50 hosts needs about 2,550 entries and overflows it, after which new connections
   * carry nothing. Permanent entries are not counted against that limit and survive a cut link
   * (carrier down). Default false: ordinary ARP.
   */
  readonly staticNeighbours?: boolean
  /** Namespace name prefix. Default `nw<pid>`. */
  readonly prefix?: string
}

/** First host address: 10.77.0.1 (addresses run to 10.77.0.254). */
const SUBNET = '10.77.0.'
const MAX_HOSTS = 254

/** One `ip` call; with `lines`, every line a command of `ip -batch -` (stops at the first failure). */
function ip(args: readonly string[], lines?: readonly string[]): string {
  return execFileSync('ip', lines === undefined ? [...args] : [...args, '-batch', '-'], {
    stdio: 'pipe',
    input: lines === undefined ? undefined : lines.join('\n') + '\n',
    encoding: 'utf8'
  })
}

export function createTopology(count: number, opts: TopologyOptions = {}): Topology {
  if (!Number.isInteger(count) || count < 1 || count > MAX_HOSTS) throw new RangeError(`1 to ${MAX_HOSTS} hosts, not ${count}`)
  const prefix = opts.prefix ?? `nw${process.pid % 100000}`
  const sw = `${prefix}sw`
  const hosts = Array.from({ length: count }, (_, i) => ({
    ns: `${prefix}h${i}`,
    address: `${SUBNET}${i + 1}`,
    port: `s${i}`,
    // Locally administered and fixed, so the neighbour entries need no lookup.
    mac: `02:77:00:00:00:${(i + 1).toString(16).padStart(2, '0')}`
  }))
  let created: string[] = []
  const destroy = (): void => {
    const names = created.reverse()
    created = []
    if (names.length === 0) return
    try {
      // -force: carry on past a namespace that is already gone.
      ip(['-force'], names.map((ns) => `netns del ${ns}`))
    } catch {
      // some were already gone; the others are deleted
    }
  }
  try {
    // Namespaces, then veth pairs created straight into them: one `ip` process each, not one per host.
    ip([], [sw, ...hosts.map((h) => h.ns)].map((ns) => `netns add ${ns}`))
    created = [sw, ...hosts.map((h) => h.ns)]
    ip([], hosts.map((h) => `link add name eth0 address ${h.mac} netns ${h.ns} type veth peer name ${h.port} netns ${sw}`))
    ip(['-n', sw], [
      'link set lo up',
      'link add br0 type bridge',
      'link set br0 up',
      ...hosts.flatMap((h) => [`link set ${h.port} master br0`, `link set ${h.port} up`])
    ])
    for (const host of hosts) {
      const neighbours =
        opts.staticNeighbours === true
          ? hosts.filter((h) => h !== host).map((h) => `neigh replace ${h.address} lladdr ${h.mac} dev eth0 nud permanent`)
          : []
      ip(['-n', host.ns], ['link set lo up', `addr add ${host.address}/24 dev eth0`, 'link set eth0 up', ...neighbours])
    }
  } catch (err) {
    destroy()
    throw err
  }
  return {
    hosts,
    exec: (i) => ['ip', 'netns', 'exec', hosts[i].ns],
    link: (which, up) => {
      const indices: readonly number[] = typeof which === 'number' ? [which] : which
      ip(['-n', sw], indices.map((i) => `link set ${hosts[i].port} ${up ? 'up' : 'down'}`))
    },
    destroy
  }
}
