/**
 * The Chromium binary browser tests drive, found without any system package or download:
 *
 * 1. `CHROMIUM_PATH`, when set (it must exist);
 * 2. `/usr/bin/chromium` (Debian's package), when installed;
 * 3. the binary shipped inside the `@sparticuz/chromium` npm package (a devDependency), which
 *    extracts it to the temp dir on first use (about 67 MiB, once per machine).
 *
 * playwright-core only drives the binary it is given; it never downloads a browser.
 */
import fs from 'fs'

export const SYSTEM_CHROMIUM = '/usr/bin/chromium'

/** Flags for a headless Chromium on a machine with no outside network. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
]

/** Where the browser tests' Chromium is, in the order above. */
export async function chromiumPath(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const fromEnv = env.CHROMIUM_PATH
  if (fromEnv) {
    if (!fs.existsSync(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv} does not exist`)
    return fromEnv
  }
  if (fs.existsSync(SYSTEM_CHROMIUM)) return SYSTEM_CHROMIUM
  const sparticuz = (await import('@sparticuz/chromium')) as unknown as { executablePath(): Promise<string> }
  return sparticuz.executablePath()
}
