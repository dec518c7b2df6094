/**
 * The layering of DESIGN.md, checked in `npm test` (test/architecture.test.ts): data flows one
 * way, from the swarm down to the facade. The cruise covers lib/ and operators/, and bench/ and
 * test/ for the no-cycles rule.
 */
const BROWSER_SAFE = '^(operators/|lib/(testing|peer|streams|extension-types|keys|errors|remote/client|remote/client-[a-z-]+|remote/protocol|remote/streams|metrics/types)\\.ts$)'

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'No cycles anywhere, the tests, their kit and the benchmarks included: every module can be read (and tested) before the ones that use it.',
      from: { path: '^(lib|operators|bench|test)/' },
      to: { circular: true }
    },
    {
      name: 'operators-are-pure',
      severity: 'error',
      comment: 'operators/ import nothing of lib/: they are pure functions of Observables.',
      from: { path: '^operators/' },
      to: { path: '^lib/' }
    },
    {
      name: 'only-swarm-source-touches-hyperswarm',
      severity: 'error',
      comment: 'lib/swarm-source.ts is the one module that creates, listens to and drives Hyperswarm.',
      from: { path: '^(lib|operators)/', pathNot: '^lib/swarm-source\\.ts$' },
      to: { path: '(^|/)node_modules/hyperswarm/' }
    },
    {
      name: 'only-extensions-and-keepalive-touch-protomux',
      severity: 'error',
      comment: 'Protomux channels are opened only by the extension transport and the keep-alive policy.',
      from: { path: '^(lib|operators)/', pathNot: '^lib/(extensions|keepalive)' },
      to: { path: '(^|/)node_modules/protomux/' }
    },
    {
      name: 'nothing-imports-the-facade',
      severity: 'error',
      comment: 'The legacy facade sits on top: only the package entry point exports it.',
      from: { path: '^(lib|operators)/', pathNot: '^lib/(index|facade)\\.ts$' },
      to: { path: '^lib/facade\\.ts$' }
    },
    {
      name: 'nothing-imports-the-prometheus-entry',
      severity: 'error',
      comment: 'lib/prometheus.ts adapts the metrics to prom-client on top: only its own entry point loads it, so `.` never loads prom-client.',
      from: { path: '^(lib|operators)/', pathNot: '^lib/prometheus\\.ts$' },
      to: { path: '^lib/prometheus\\.ts$' }
    },
    {
      name: 'only-the-prometheus-entry-touches-prom-client-and-stats',
      severity: 'error',
      comment: 'prom-client (an optional peer dependency) and the Holepunch stats modules are loaded by the /prometheus entry alone.',
      from: { path: '^(lib|operators)/', pathNot: '^lib/prometheus\\.ts$' },
      to: { path: '(^|/)node_modules/(prom-client|hyperswarm-stats|hypercore-stats|hyperdht-stats|passive-core-watcher)/' }
    },
    {
      name: 'browser-safe-modules-use-no-node-builtins',
      severity: 'error',
      comment: '/operators, /testing and the /remote client (and the types they share) run in a browser.',
      from: { path: BROWSER_SAFE },
      to: { dependencyTypes: ['core'] }
    },
    {
      name: 'browser-safe-modules-stay-browser-safe',
      severity: 'error',
      comment: 'What /operators and /testing import must itself be browser-safe.',
      from: { path: BROWSER_SAFE },
      to: { path: '^lib/', pathNot: BROWSER_SAFE }
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.build.json' },
    exclude: { path: '^types/' }
  }
}
