import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, startChildServer } from './child-server.js';

const MOTO_SERVER = fileURLToPath(new URL('../.tools/moto_server', import.meta.url));

export interface Moto {
  endpoint: string;
  /** What the AWS SDK needs to talk to this server and nothing else. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * moto in server mode on a loopback port (installed by scripts/install-tools.sh): a free
 * one, or the given one to bring a stopped server back where its clients expect it.
 */
export async function startMoto(port?: number): Promise<Moto> {
  if (!existsSync(MOTO_SERVER)) throw new Error(`${MOTO_SERVER} is missing: run npm run tools`);
  port ??= await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const server = await startChildServer(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], `${endpoint}/moto-api/`);
  return {
    endpoint,
    env: {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    stop: () => server.stop(),
  };
}
