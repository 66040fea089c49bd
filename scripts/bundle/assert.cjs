// Stands in for `assert` where sonic-boom (pino's destination) requires it at load for one
// check of its file descriptor. The built-in module brings its error formatting with it
// (~10 ms of start-up on Node 24); this is the same check, throwing the same way.
'use strict';

function assert(value, message) {
  if (!value)
    throw Object.assign(new Error(message ?? 'assertion failed'), { name: 'AssertionError', code: 'ERR_ASSERTION' });
}

module.exports = assert;
module.exports.ok = assert;
