// Stands in for `axios` inside dist/cli.js. node-vault requires it at load, but vault-bootstrap
// hands node-vault its own transport through node-vault's `request-promise` option
// (src/vault/transport.ts: Node's http/https, TLS from our Config, connections we watch), and
// node-vault then never calls axios. Leaving axios (and form-data, proxy-from-env, follow-
// redirects under it) out of the bundle saves their memory and start-up. If anything ever does
// call it, this says so instead of sending a request some other way. scripts/build.mjs puts it
// in place; node_modules is unchanged.
'use strict';

function unused() {
  throw new Error(
    'axios is not part of the vault-bootstrap bundle: node-vault is given its transport (see scripts/bundle/axios.cjs)',
  );
}

module.exports = { create: unused, request: unused, default: { create: unused } };
