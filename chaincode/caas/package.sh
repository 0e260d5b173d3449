#!/bin/sh
# Build the chaincode-as-a-service package one organisation's peer installs (`peer lifecycle
# chaincode install consortium.tar.gz`): metadata.json (type "ccaas") and code.tar.gz holding
# connection.json, which tells the peer where THAT organisation's chaincode server (the Docker
# image of ../Dockerfile) listens and how to reach it over mutual TLS. Every organisation packages
# its own: a peer endorses what the server it dials computed, so a server shared by several
# organisations would endorse for all of them (docs/decisions/0006-fabric.md). The label
# "consortium_1.0" is the chaincode name and the definition version that deploy/fabric/network.sh
# approves, not the npm package version.
# Usage: caas/package.sh HOST:PORT TLS_CA CLIENT_CERT CLIENT_KEY
#   TLS_CA       PEM of the CA that issued the server's TLS certificate (for the name HOST)
#   CLIENT_CERT  PEM certificate (TLS client) your peers present to the server, and
#   CLIENT_KEY   its private key: the server accepts clients of the CA in its
#                CHAINCODE_TLS_CLIENT_CACERT_FILE
# e.g. consortium-cc-hospital1:9999 tlsca.pem client.crt client.key -> caas/consortium.tar.gz,
# which holds the client key (Fabric 2.5's ccaas builder reads the PEM text inline): keep it private.
set -eu
usage="usage: caas/package.sh HOST:PORT TLS_CA CLIENT_CERT CLIENT_KEY (your organisation's own"
usage="$usage chaincode server, e.g. consortium-cc-hospital1:9999, and the PEM files to reach it)"
address="${1:-}"
case "$address" in
  *?:[0-9]*) ;;
  *)
    echo "$usage; got address '${address}'" >&2
    exit 2
    ;;
esac
[ "$#" -eq 4 ] || { echo "$usage; got $# arguments" >&2; exit 2; }
for file in "$2" "$3" "$4"; do
  [ -r "$file" ] || { echo "caas/package.sh: cannot read $file (a PEM file); $usage" >&2; exit 2; }
done
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
umask 077
python3 - "$here/connection.json" "$address" "$2" "$3" "$4" > "$work/connection.json" <<'PY'
import json, sys

template, address, ca, cert, key = sys.argv[1:]
connection = json.load(open(template))
connection["address"] = address
for field, path in (("root_cert", ca), ("client_cert", cert), ("client_key", key)):
    text = open(path).read()
    if "-----BEGIN " not in text:
        sys.exit(f"caas/package.sh: {path} is not a PEM file ({field})")
    connection[field] = text
print(json.dumps(connection, indent=2))
PY
tar -C "$work" -czf "$work/code.tar.gz" connection.json
cp "$here/metadata.json" "$work/metadata.json"
tar -C "$work" -czf "$here/consortium.tar.gz" metadata.json code.tar.gz
echo "caas/consortium.tar.gz (address $address, mutual TLS); install it on your organisation's"
echo "peers, then start the server at $address with CHAINCODE_ID=<package id printed by the"
echo "install>, CHAINCODE_SERVER_ADDRESS=0.0.0.0:${address##*:} and CHAINCODE_TLS_KEY_FILE,"
echo "CHAINCODE_TLS_CERT_FILE (its certificate for ${address%:*}), CHAINCODE_TLS_CLIENT_CACERT_FILE"
