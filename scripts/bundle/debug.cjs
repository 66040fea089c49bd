// Stands in for `debug` inside dist/cli.js. node-vault creates its logger from it at load
// (`require('debug')('node-vault')`), but vault-bootstrap hands node-vault a silent `debug`
// option (src/vault/client.ts), so the default logger is never called. Left in, it would load
// `tty` at start and, with DEBUG=node-vault in the environment, could print request bodies
// (unseal keys among them) if it were ever used. This one does nothing, whatever DEBUG says.
'use strict';

function createDebug() {
  const log = () => undefined;
  log.enabled = false;
  return log;
}

module.exports = createDebug;
module.exports.default = createDebug;
