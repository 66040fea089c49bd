// Stands in for node-vault's table of convenience commands (src/commands.js) and for mustache,
// which only those commands use (path templates), inside dist/cli.js. SPEC §8: vault-bootstrap
// calls Vault through node-vault's generic `request` only, and hands node-vault an empty command
// table (src/vault/client.ts), so node-vault builds none of its ~150 command functions and their
// schemas (~4 MiB of heap at start) and mustache is never called.
'use strict';

module.exports = {};
module.exports.render = () => {
  throw new Error(
    'node-vault convenience commands are not part of the vault-bootstrap bundle (see scripts/bundle/no-commands.cjs)',
  );
};
