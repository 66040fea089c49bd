import { ConfigError } from '../errors.js';
import type { StoreConfig } from '../store/index.js';
import type { Environment, OptionReader } from './read.js';

const STORE_KINDS = ['gcp', 'aws', 'file'];

/** --store and the options of the store it names. */
export function parseStore(read: OptionReader, env: Environment): StoreConfig {
  const allowFileStore = read.boolean('allow-file-store');
  const { value: kind, name } = read.text('store');
  if (kind === undefined) throw new ConfigError(`${name}: required, one of ${STORE_KINDS.join(', ')}`);
  const kmsKey = read.text('kms-key').value;
  switch (kind) {
    case 'file': {
      if (env.KUBERNETES_SERVICE_HOST && !allowFileStore) {
        throw new ConfigError(
          `${name}: the file store is for local development and is refused inside Kubernetes; use gcp or aws (or --allow-file-store)`,
        );
      }
      return { kind, directory: read.text('file-dir').value ?? './.vault-bootstrap' };
    }
    case 'gcp': {
      const endpoint = read.text('gcp-endpoint');
      if (endpoint.value !== undefined && !/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/.test(endpoint.value)) {
        throw new ConfigError(`${endpoint.name}: expected host:port, got ${JSON.stringify(endpoint.value)}`);
      }
      return { kind, project: read.text('gcp-project').value, endpoint: endpoint.value, kmsKey };
    }
    case 'aws': {
      const region = read.text('aws-region');
      if (region.value !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region.value)) {
        throw new ConfigError(
          `${region.name}: expected an AWS region such as eu-west-1, got ${JSON.stringify(region.value)}`,
        );
      }
      return { kind, region: region.value, kmsKey };
    }
    default:
      throw new ConfigError(`${name}: expected one of ${STORE_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  }
}
