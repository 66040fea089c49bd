// Stands in for `https` where node-vault requires it at load: it only builds an https.Agent from
// TLS options vault-bootstrap never passes it (our transport, src/vault/transport.ts, carries the
// TLS settings). Node's https and tls are loaded on first use instead, so a run against an
// http:// address never loads them (~35 ms of start-up on Node 24); any use still gets the real module.
'use strict';

let https;
module.exports = new Proxy(
  {},
  {
    get(_target, name) {
      https ??= require('node:https');
      return https[name];
    },
  },
);
