import { isIP } from 'node:net';

/**
 * 127.0.0.0/8, ::1 and localhost: traffic that never leaves the host. Plain http (--vault-addr)
 * and plaintext gRPC (--gcp-endpoint) are accepted without a second thought only there.
 */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  // The URL parser writes IPv6 in its shortest form, so 0:0:0:0:0:0:0:1 becomes ::1.
  return isIP(bare) === 6 && new URL(`http://[${bare}]`).hostname === '[::1]';
}
