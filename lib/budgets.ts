/**
 * Every budget that bounds what a remote peer (or a remote-server client) can make this process
 * hold, wait for or allocate, stated in one place and read by the rooms that enforce them.
 * docs/SECURITY.md names each one and the test that tries to exceed it.
 */

/**
 * Remote-server commands (`serveNetworker(…, { commands: true })`): messages one client may have
 * waiting behind a full extension window, that is its `send` commands answered `full: true` and
 * not yet drained (over all published extensions). One more is refused with `ERR_BACKPRESSURE`
 * and nothing is queued; the client waits with `drained(name)`. Option `maxWaitingSends`.
 */
export const REMOTE_MAX_WAITING_SENDS = 256

/**
 * The bytes of those waiting messages (the size of the client's `send` frames), so that what a
 * client can make the server hold is bounded whatever its messages' size. A single message
 * larger than this is still accepted when the client has nothing waiting. Option
 * `maxWaitingSendBytes`.
 */
export const REMOTE_MAX_WAITING_SEND_BYTES = 1024 * 1024
