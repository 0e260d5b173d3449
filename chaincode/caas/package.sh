#!/bin/sh
# Build the chaincode-as-a-service package a peer installs (`peer lifecycle chaincode install
# consortium.tar.gz`): metadata.json (type "ccaas") and code.tar.gz holding connection.json, which
# tells the peer where the chaincode server (the Docker image of ../Dockerfile) listens.
# Usage: caas/package.sh [address]   (default consortium-cc:9999) -> caas/consortium.tar.gz
set -eu
cd "$(dirname "$0")"
address="${1:-consortium-cc:9999}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sed "s/\"address\": \"[^\"]*\"/\"address\": \"$address\"/" connection.json > "$work/connection.json"
tar -C "$work" -czf "$work/code.tar.gz" connection.json
cp metadata.json "$work/metadata.json"
tar -C "$work" -czf consortium.tar.gz metadata.json code.tar.gz
echo "caas/consortium.tar.gz (address $address); install it, then start the server with"
echo "CHAINCODE_ID=<package id printed by the install> CHAINCODE_SERVER_ADDRESS=0.0.0.0:9999"
