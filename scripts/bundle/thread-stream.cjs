// Stands in for `thread-stream` inside dist/cli.js: pino loads it at start for transports (a
// worker thread that writes the logs), which vault-bootstrap does not use; its logs go to a
// synchronous destination (src/cli.ts). Leaving it out leaves `worker_threads` unloaded. If
// anything ever asks for a transport, this says so.
'use strict';

module.exports = class ThreadStream {
  constructor() {
    throw new Error(
      'pino transports are not part of the vault-bootstrap bundle (see scripts/bundle/thread-stream.cjs)',
    );
  }
};
