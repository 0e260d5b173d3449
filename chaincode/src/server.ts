/**
 * Chaincode-as-a-service entry point: the peer connects to this gRPC server (Fabric's "ccaas"
 * external builder; see caas/). Configured by the environment, as in the Fabric samples:
 *   CHAINCODE_SERVER_ADDRESS  host:port to listen on, e.g. 0.0.0.0:9999
 *   CHAINCODE_ID              the package id the peer installed (label:hash)
 * TLS (deploy/fabric sets all three: the peer dials with mutual TLS, docs/decisions/0006):
 *   CHAINCODE_TLS_KEY_FILE, CHAINCODE_TLS_CERT_FILE  the server's key and certificate (PEM)
 *   CHAINCODE_TLS_CLIENT_CACERT_FILE                 if set, clients must present a certificate
 *                                                    from this CA
 * None of them: plaintext. A key without its certificate (or the reverse, or a client CA without
 * both) is refused, never served in plaintext.
 */

import { readFileSync } from 'node:fs';

import { JSONSerializer } from 'fabric-contract-api';
import { ChaincodeServerOpts, Shim } from 'fabric-shim';

import { contracts } from './index';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ChaincodeFromContract = require('fabric-shim/lib/contract-spi/chaincodefromcontract.js');

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}

function env(name: string): string {
  const value = process.env[name];
  return value ? value : fail(`${name} is not set; set it to run the chaincode as a service`);
}

/** The file named by the variable `name`, or a stop that names both. */
function tlsFile(name: string): Buffer {
  const path = process.env[name] as string;
  try {
    return readFileSync(path);
  } catch (error) {
    const uid = process.getuid ? ` (this server runs as uid ${process.getuid()})` : '';
    return fail(`cannot read ${name}=${path}: ${(error as Error).message}${uid}`);
  }
}

function tlsProps(): object | undefined {
  const names = ['CHAINCODE_TLS_KEY_FILE', 'CHAINCODE_TLS_CERT_FILE', 'CHAINCODE_TLS_CLIENT_CACERT_FILE'];
  const set = names.filter((name) => process.env[name]);
  if (set.length === 0) return undefined;
  const missing = names.slice(0, 2).filter((name) => !process.env[name]);
  if (missing.length > 0) {
    fail(
      `${set.join(' and ')} ${set.length > 1 ? 'are' : 'is'} set but not ${missing.join(' or ')}: ` +
        `TLS needs the server's key and certificate; set both, or unset every CHAINCODE_TLS_* ` +
        'to serve without TLS',
    );
  }
  const [key, cert, ca] = names;
  return {
    key: tlsFile(key),
    cert: tlsFile(cert),
    ...(process.env[ca] ? { clientCACerts: tlsFile(ca) } : {}),
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
