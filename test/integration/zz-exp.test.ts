test('exp', async () => {
  const seen: unknown[] = []
  const on = (r: unknown) => { seen.push(r) }
  process.on('unhandledRejection', on)
  void Promise.reject(new Error('boom'))
  await new Promise(r => setTimeout(r, 100))
  process.removeListener('unhandledRejection', on)
  console.log('seen', seen.length)
})
