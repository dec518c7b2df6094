/**
 * The remote client is browser-safe: bundled for the browser it pulls in nothing but its own
 * modules and RxJS (no Node built-in, no `Buffer`, nothing of the Node-side library).
 */
import path from 'path'
import { build } from 'esbuild'

test('a browser bundle of the client holds only lib/remote/{client*,protocol,streams}, lib/errors (browser-safe: coded errors for bad input) and rxjs (with its tslib)', async () => {
  const result = await build({
    entryPoints: [path.join(__dirname, '..', 'lib', 'remote', 'client.ts')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent'
  })
  const inputs = Object.keys(result.metafile.inputs)
  const ours = inputs.filter((file) => !file.startsWith('node_modules/'))
  expect(ours.sort()).toEqual([
    'lib/errors.ts',
    'lib/remote/client-connection.ts',
    'lib/remote/client-values.ts',
    'lib/remote/client.ts',
    'lib/remote/protocol.ts',
    'lib/remote/streams.ts'
  ])
  const packages = new Set(inputs.filter((file) => file.startsWith('node_modules/')).map((file) => file.split('/')[1]))
  // rxjs and its own helper tslib.
  expect([...packages].sort()).toEqual(['rxjs', 'tslib'])
  expect(result.outputFiles[0].text).not.toMatch(/\bBuffer\b/)
})
