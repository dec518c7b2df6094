import { operators as scenario } from './operators'
scenario({ smoke: process.argv.includes('--smoke'), log: (l) => console.error(l) }).then(r => { console.log(JSON.stringify(r, null, 1)); }).catch(e => { console.error(e); process.exit(1) })
