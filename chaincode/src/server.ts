/**
 * Chaincode-as-a-service entry point: the peer connects to this gRPC server (Fabric's "ccaas"
 * external builder; see caas/). Configured by the environment, as in the Fabric samples:
 *   CHAINCODE_SERVER_ADDRESS  host:port to listen on, e.g. 0.0.0.0:9999
 *   CHAINCODE_ID              the package id the peer installed (label:hash)
 * Optional TLS: CHAINCODE_TLS_KEY_FILE, CHAINCODE_TLS_CERT_FILE, CHAINCODE_TLS_CLIENT_CACERT_FILE.
 */

import { readFileSync } from 'node:fs';

import { JSONSerializer } from 'fabric-contract-api';
import { ChaincodeServerOpts, Shim } from 'fabric-shim';

import { contracts } from './index';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ChaincodeFromContract = require('fabric-shim/lib/contract-spi/chaincodefromcontract.js');

function env(name: string): string {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`error: ${name} is not set; set it to run the chaincode as a service\n`);
    process.exit(2);
  }
  return value;
}

function tlsProps(): object | undefined {
  const key = process.env.CHAINCODE_TLS_KEY_FILE;
  const cert = process.env.CHAINCODE_TLS_CERT_FILE;
  if (!key || !cert) return undefined;
  const ca = process.env.CHAINCODE_TLS_CLIENT_CACERT_FILE;
  return {
    key: readFileSync(key),
    cert: readFileSync(cert),
    ...(ca ? { clientCACerts: readFileSync(ca) } : {}),
  };
}

async function main(): Promise<void> {
  const serializers = { transaction: 'jsonSerializer', serializers: { jsonSerializer: JSONSerializer } };
  const chaincode = new ChaincodeFromContract(contracts, serializers, {}, 'consortium', '0.1.0');
  const server = Shim.server(chaincode, {
    ccid: env('CHAINCODE_ID'),
    address: env('CHAINCODE_SERVER_ADDRESS'),
    tlsProps: tlsProps(),
  } as ChaincodeServerOpts);
  await server.start();
}

main().catch((error: Error) => {
  process.stderr.write(`error: chaincode server stopped: ${error.message}\n`);
  process.exit(1);
});
