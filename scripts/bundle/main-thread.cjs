// Stands in for `worker_threads` where pino requires it, only to ask `isMainThread` (whether to
// flush an asynchronous destination at exit). vault-bootstrap runs no worker threads, so the
// answer is always true; the built-in module itself (~13 ms of start-up on Node 24) stays unloaded.
'use strict';

module.exports = { isMainThread: true };
