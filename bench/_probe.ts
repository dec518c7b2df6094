import { ConfigStore } from '../lib/config-store'
import { discovery } from './discovery'
async function main() {
  if (process.env.NOLIST) (ConfigStore as any).list = async () => []
  const r = await discovery({})
  for (const m of r.metrics) console.log(process.env.NOLIST ? 'no-restore' : 'as-is', m.key, m.ours?.toFixed(2), m.raw?.toFixed(2), m.ratio?.toFixed(2))
}
main()
