import fs from 'fs'
import os from 'os'
import path from 'path'
import { SYSTEM_CHROMIUM, chromiumPath } from './chromium'

describe('chromiumPath', () => {
  it('uses CHROMIUM_PATH first', async () => {
    const fake = path.join(os.tmpdir(), `fake-chromium-${process.pid}`)
    fs.writeFileSync(fake, '')
    try {
      expect(await chromiumPath({ CHROMIUM_PATH: fake })).toBe(fake)
    } finally {
      fs.rmSync(fake, { force: true })
    }
  })

  it('refuses a CHROMIUM_PATH that does not exist instead of falling back', async () => {
    await expect(chromiumPath({ CHROMIUM_PATH: '/nonexistent/chromium' })).rejects.toThrow('does not exist')
  })

  it('without CHROMIUM_PATH, finds an existing binary with no system package needed', async () => {
    const found = await chromiumPath({})
    expect(fs.existsSync(found)).toBe(true)
    if (!fs.existsSync(SYSTEM_CHROMIUM)) expect(found).not.toBe(SYSTEM_CHROMIUM)
  })
})
