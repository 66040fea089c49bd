import { FileStore } from './file.js';
import type { SecretStore } from './types.js';

export type StoreConfig =
  | { kind: 'file'; directory: string }
  | { kind: 'gcp'; project: string | undefined; endpoint: string | undefined; kmsKey: string | undefined }
  | { kind: 'aws'; region: string | undefined; kmsKey: string | undefined };

/** Builds the chosen store. Cloud SDKs are imported here, on demand, so only the chosen one loads. */
export async function createStore(config: StoreConfig): Promise<SecretStore> {
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
