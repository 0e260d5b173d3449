/** Chaincode entry (package.json `main`): fabric-chaincode-node loads `contracts` from here. */

import { ConsortiumContract } from './contract';

export { ConsortiumContract } from './contract';
export const contracts = [ConsortiumContract];
