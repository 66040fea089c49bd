import { FaultProxy } from './fault-proxy.js';
import type { Moto } from './moto.js';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** The `seal "awskms"` stanza of a test server: a key in moto, reached through a fault proxy. */
export interface AwsKmsSeal {
  type: 'awskms';
  region: string;
  keyId: string;
  /** Where the server sends its KMS calls: the fault proxy in front of moto. */
  endpoint: string;
  /** Given to the server in its environment, never written to its config file. */
  credentials: AwsCredentials;
  /** `disabled = "true"`: the old seal of a migration to another auto-unseal seal. */
  disabled?: boolean;
}

/** Credentials moto accepts while it does not enforce IAM (its default). */
const UNCHECKED_CREDENTIALS: AwsCredentials = Object.freeze({ accessKeyId: 'testing', secretAccessKey: 'testing' });

const REGION = 'us-east-1';

/**
 * AWS KMS as moto serves it, for the awskms seal. moto keeps its keys in memory, so the moto
 * behind this must outlive every restart of the servers whose seal uses it (one per test file).
 * The servers reach it through a FaultProxy: a test refuses or black-holes the KMS there
 * without losing the key.
 *
 * moto can enforce IAM (`POST /moto-api/reset-auth`): each request is then checked against the
 * policies of the user whose access key signed it, by action, against resource "*" only (so an
 * action list can be tested, not ARN scoping). Users and keys are made before it enforces.
 */
export class MotoKms {
  readonly moto: Moto;
  readonly faults: FaultProxy;

  private constructor(moto: Moto, faults: FaultProxy) {
    this.moto = moto;
    this.faults = faults;
  }

  static async start(moto: Moto): Promise<MotoKms> {
    return new MotoKms(moto, await FaultProxy.start(moto.endpoint));
  }

  /** A new symmetric key; its id. */
  async createKey(): Promise<string> {
    const answer = await this.#awsJson('kms', 'TrentService.CreateKey', { Description: 'vault-bootstrap test seal' });
    return (answer as { KeyMetadata: { KeyId: string } }).KeyMetadata.KeyId;
  }

  /** A seal stanza on a new key (or the given one), signed with the given credentials. */
  async seal(options: { keyId?: string; credentials?: AwsCredentials } = {}): Promise<AwsKmsSeal> {
    return {
      type: 'awskms',
      region: REGION,
      keyId: options.keyId ?? (await this.createKey()),
      endpoint: this.faults.address,
      credentials: options.credentials ?? UNCHECKED_CREDENTIALS,
    };
  }

  /** An IAM user allowed exactly these actions (on "*"), and its access key. */
  async userAllowed(name: string, actions: string[]): Promise<AwsCredentials> {
    await this.#iam({ Action: 'CreateUser', UserName: name });
    const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }] };
    await this.#iam({
      Action: 'PutUserPolicy',
      UserName: name,
      PolicyName: `${name}-policy`,
      PolicyDocument: JSON.stringify(policy),
    });
    const created = await this.#iam({ Action: 'CreateAccessKey', UserName: name });
    const accessKeyId = /<AccessKeyId>([^<]+)<\/AccessKeyId>/.exec(created)?.[1];
    const secretAccessKey = /<SecretAccessKey>([^<]+)<\/SecretAccessKey>/.exec(created)?.[1];
    if (accessKeyId === undefined || secretAccessKey === undefined)
      throw new Error(`moto IAM: no access key in the answer for ${name}`);
    return { accessKeyId, secretAccessKey };
  }

  /** From now on every KMS and Secrets Manager request must be signed by a user allowed its action. */
  async enforceIam(): Promise<void> {
    await this.#resetAuth('0');
  }

  async relaxIam(): Promise<void> {
    await this.#resetAuth('inf');
  }

  async #resetAuth(count: string): Promise<void> {
    // An octet-stream body: moto reads the raw count, and a form body would be parsed away.
    const answer = await fetch(`${this.moto.endpoint}/moto-api/reset-auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: count,
    });
    if (!answer.ok) throw new Error(`moto reset-auth ${count}: HTTP ${answer.status}`);
  }

  /** An unsigned call, which moto takes while it does not enforce IAM (the header only names the service). */
  async #awsJson(service: string, target: string, body: unknown): Promise<unknown> {
    const answer = await fetch(`${this.moto.endpoint}/`, {
      method: 'POST',
      headers: {
        'x-amz-target': target,
        'content-type': 'application/x-amz-json-1.1',
        authorization: unsignedAuthorization(service),
      },
      body: JSON.stringify(body),
    });
    const text = await answer.text();
    if (!answer.ok) throw new Error(`moto ${target}: HTTP ${answer.status}: ${text.slice(0, 200)}`);
    return JSON.parse(text);
  }

  async #iam(parameters: Record<string, string>): Promise<string> {
    const answer = await fetch(`${this.moto.endpoint}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: unsignedAuthorization('iam') },
      body: new URLSearchParams({ ...parameters, Version: '2010-05-08' }).toString(),
    });
    const text = await answer.text();
    if (!answer.ok) throw new Error(`moto IAM ${parameters.Action}: HTTP ${answer.status}: ${text.slice(0, 200)}`);
    return text;
  }
}

/** moto routes a request by the service named in its credential scope. */
function unsignedAuthorization(service: string): string {
  return `AWS4-HMAC-SHA256 Credential=${UNCHECKED_CREDENTIALS.accessKeyId}/20260101/${REGION}/${service}/aws4_request, SignedHeaders=host, Signature=0`;
}

/** The actions the awskms seal needs (README, IAM): DescribeKey at start, Encrypt at init and rewrap, Decrypt at every unseal. */
export const SEAL_KMS_ACTIONS = ['kms:DescribeKey', 'kms:Encrypt', 'kms:Decrypt'] as const;
