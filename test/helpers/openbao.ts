// The names the suites that run on OpenBao only use; the server helper itself is servers.ts.
export { serverRequest as baoRequest, TestServer as OpenBao } from './servers.js';
export type { ServerOptions as OpenBaoOptions } from './servers.js';
