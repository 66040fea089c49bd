// The names the suites and scripts that run on OpenBao only use; the helper is server-process.ts.
export { serverRequest as baoRequest, TestServer as OpenBao } from './server-process.js';
export type { ServerOptions as OpenBaoOptions } from './server-process.js';
