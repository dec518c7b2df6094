import { defineConfig } from 'tsup'

/**
 * One source, two builds: ESM (`.mjs` + `.d.mts`) and CommonJS (`.js` + `.d.ts`), one file per
 * entry point plus shared chunks, so each entry point's classes exist once per format.
 * Dependencies and the rxjs peer dependency stay external: the consumer's single rxjs is used.
 */
export default defineConfig({
  entry: {
    index: 'lib/index.ts',
    operators: 'operators/index.ts',
    testnet: 'lib/testnet.ts',
    testing: 'lib/testing.ts',
    remote: 'lib/remote/client.ts',
    'remote/server': 'lib/remote/server.ts',
    prometheus: 'lib/prometheus.ts'
  },
  outDir: 'dist',
  format: ['esm', 'cjs'],
  target: 'node20',
  platform: 'node',
  splitting: true,
  treeshake: false,
  sourcemap: false,
  clean: true,
  dts: { compilerOptions: { composite: false } },
  tsconfig: 'tsconfig.build.json'
})
