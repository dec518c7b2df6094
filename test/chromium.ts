/**
 * The Chromium the browser tests drive, never downloaded: `CHROMIUM_PATH`, else Debian's
 * `/usr/bin/chromium`, else the binary shipped inside the `@sparticuz/chromium` package
 * (extracted to the temp dir on first use).
 */
import fs from 'fs'

/** Flags every browser test launches Chromium with. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run'
]

export async function chromiumPath(): Promise<string> {
  const fromEnv = process.env.CHROMIUM_PATH
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!fs.existsSync(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv} does not exist`)
    return fromEnv
  }
  if (fs.existsSync('/usr/bin/chromium')) return '/usr/bin/chromium'
  const sparticuz = (await import('@sparticuz/chromium')) as unknown as {
    default?: { executablePath(): Promise<string> }
    executablePath?: () => Promise<string>
  }
  const chromium = sparticuz.default ?? sparticuz
  if (typeof chromium.executablePath !== 'function') throw new Error('@sparticuz/chromium has no executablePath()')
  return chromium.executablePath()
}
