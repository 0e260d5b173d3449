#!/bin/sh
# Build the chaincode-as-a-service package one organisation's peer installs (`peer lifecycle
# chaincode install consortium.tar.gz`): metadata.json (type "ccaas") and code.tar.gz holding
# connection.json, which tells the peer where THAT organisation's chaincode server (the Docker
# image of ../Dockerfile) listens. Every organisation packages its own: a peer endorses what the
# server it dials computed, so a server shared by several organisations would endorse for all of
# them (docs/decisions/0006-fabric.md). The label "consortium_1.0" is the chaincode name and the
# definition version that deploy/fabric/network.sh approves, not the npm package version.
# Usage: caas/package.sh HOST:PORT   e.g. consortium-cc-hospital1:9999 -> caas/consortium.tar.gz
set -eu
cd "$(dirname "$0")"
address="${1:-}"
case "$address" in
  *?:[0-9]*) ;;
  *)
    echo "usage: caas/package.sh HOST:PORT (your organisation's own chaincode server," \
      "e.g. consortium-cc-hospital1:9999); got '${address}'" >&2
    exit 2
    ;;
esac
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sed "s/\"address\": \"[^\"]*\"/\"address\": \"$address\"/" connection.json > "$work/connection.json"
tar -C "$work" -czf "$work/code.tar.gz" connection.json
cp metadata.json "$work/metadata.json"
tar -C "$work" -czf consortium.tar.gz metadata.json code.tar.gz
echo "caas/consortium.tar.gz (address $address); install it on your organisation's peers, then"
echo "start the server at $address with CHAINCODE_ID=<package id printed by the install>"
echo "and CHAINCODE_SERVER_ADDRESS=0.0.0.0:${address##*:}"
