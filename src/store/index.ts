import type { Deadlines } from '../deadlines.js';
import { DeadlineStore } from './deadline.js';
import { FileStore } from './file.js';
import type { SecretStore } from './types.js';

export type StoreConfig =
  | { kind: 'file'; directory: string }
  | { kind: 'gcp'; project: string | undefined; endpoint: string | undefined; kmsKey: string | undefined }
  | { kind: 'aws'; region: string | undefined; kmsKey: string | undefined };

/** Builds the chosen store, every operation within its deadline. Cloud SDKs are imported here, on demand, so only the chosen one loads. */
export async function createStore(config: StoreConfig, deadlines: Deadlines): Promise<SecretStore> {
  return new DeadlineStore(await createBackend(config), deadlines);
}

async function createBackend(config: StoreConfig): Promise<SecretStore> {
  switch (config.kind) {
    case 'file':
      return new FileStore(config.directory);
    case 'gcp': {
      const { GcpStore } = await import('./gcp.js');
      return new GcpStore({ project: config.project, endpoint: config.endpoint, kmsKey: config.kmsKey });
    }
    case 'aws': {
      const { AwsStore } = await import('./aws.js');
      return new AwsStore({ region: config.region, kmsKey: config.kmsKey });
    }
  }
}
