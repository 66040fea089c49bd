// Stands in for `form-data` inside dist/cli.js. axios (under node-vault) requires it at load for
// multipart/form-data request bodies, which vault-bootstrap never sends: every Vault call is JSON.
// The real module pulls in mime-db (a 200 KB table parsed at start-up) and a dozen small helpers,
// about 2.5 MiB of RSS on Node 20. If a multipart body is ever sent, this says so instead of
// sending something wrong. scripts/build.mjs puts it in place; node_modules is unchanged.
'use strict';

module.exports = class FormData {
  constructor() {
    throw new Error('multipart/form-data bodies are not supported in the vault-bootstrap bundle (form-data is left out: see scripts/bundle/form-data.cjs)');
  }
};
