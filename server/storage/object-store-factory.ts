import { ConfigError, type Config } from '@mc/shared/config';
import { FsObjectStore } from './fs-object-store';
import type { ObjectStore } from './object-store';
import { S3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store';

type StoreConfig = Pick<
  Config,
  'S3_ENDPOINT' | 'S3_REGION' | 'S3_ACCESS_KEY_ID' | 'S3_SECRET_ACCESS_KEY' | 'S3_FORCE_PATH_STYLE' | 'OBJECT_STORE_DIR'
>;

/** S3 when S3_ENDPOINT is set, else the write-once filesystem store at OBJECT_STORE_DIR. */
export function createObjectStore(config: StoreConfig, deps: { logger?: S3ObjectStoreOptions['logger'] } = {}): ObjectStore {
  if (!config.S3_ENDPOINT) return new FsObjectStore(config.OBJECT_STORE_DIR);

  // The schema leaves the keys optional because the fs store needs none; S3 does, so fail at
  // start naming the variables rather than on the first receipt.
  const { S3_ACCESS_KEY_ID: accessKeyId, S3_SECRET_ACCESS_KEY: secretAccessKey } = config;
  if (!accessKeyId || !secretAccessKey) {
    throw new ConfigError('invalid configuration:\n  S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY: required when S3_ENDPOINT is set');
  }
  return new S3ObjectStore({
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    accessKeyId,
    secretAccessKey,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    ...(deps.logger ? { logger: deps.logger } : {}),
  });
}
