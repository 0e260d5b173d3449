#!/usr/bin/env bash
# A Fabric 2.5 network for the consortium: N hospital organisations (one peer each, LevelDB),
# one orderer organisation with three Raft orderers, the application channel "consortium" created
# through the channel participation API (no system channel), and the consortium chaincode run as a
# service (built from chaincode/Dockerfile): one chaincode server per hospital, which only that
# hospital's peer dials, so no one else's server computes a hospital's endorsement, over mutual
# TLS with certificates from the hospital's TLS CA (chaincode_tls.py).
#
#   ./network.sh up [-n N]        crypto material (with the chaincode servers' TLS), channel
#                                 genesis block, containers, joins
#   ./network.sh deploy [-s SEQ]  per hospital: package, install, approve, and start its own
#                                 chaincode server; then commit the definition
#   ./network.sh down             stop everything and delete the generated material
#
# Needs docker with the compose plugin, and python3 with PyYAML and cryptography (PYTHON=... for
# another interpreter, e.g. the consortium's .venv/bin/python). Every Fabric binary (cryptogen,
# configtxgen, osnadmin, peer) runs inside the hyperledger/fabric-tools:2.5 container.
# Written from the Fabric 2.5 documentation; it has not been run where it was written (no docker
# engine there): see docs/fabric.md.
set -euo pipefail

cd "$(dirname "$0")"
CHANNEL=consortium
CC_NAME=consortium
CC_VERSION=1.0
DOMAIN=consortium.example
ORDERER_CA=/work/organizations/ordererOrganizations/$DOMAIN/tlsca/tlsca.$DOMAIN-cert.pem
COMPOSE=(docker compose -f compose.yaml)
PYTHON=${PYTHON:-python3}
REGEN="rerun python3 generate.py --orgs N (N hospitals), then ./network.sh up"

log() { printf '\033[1m%s\033[0m\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

hospitals() { grep -c '^- Name: Hospital' crypto-config.yaml; }

in_tools() { "${COMPOSE[@]}" exec -T tools "$@"; }

# The peer CLI, acting as hospital $1's admin against that hospital's peer.
peer_as() {
  local i=$1 domain="hospital$1.$DOMAIN"
  shift
  local org=/work/organizations/peerOrganizations/$domain
  "${COMPOSE[@]}" exec -T \
    -e CORE_PEER_TLS_ENABLED=true \
    -e CORE_PEER_LOCALMSPID="Hospital${i}MSP" \
    -e CORE_PEER_TLS_ROOTCERT_FILE="$org/tlsca/tlsca.$domain-cert.pem" \
    -e CORE_PEER_MSPCONFIGPATH="$org/users/Admin@$domain/msp" \
    -e CORE_PEER_ADDRESS="peer0.$domain:7051" \
    tools peer "$@"
}

retry() {
  local n=0
  until "$@"; do
    n=$((n + 1))
    [ "$n" -ge 10 ] && die "gave up after 10 attempts: $*"
    sleep 3
  done
}

network_up() {
  local orgs=${1:-}
  command -v docker >/dev/null || die "docker is not installed"
  if [ -n "$orgs" ]; then
    "$PYTHON" generate.py --orgs "$orgs" >/dev/null || die "generate.py failed (needs pyyaml)"
  fi
  log "Crypto material (cryptogen) for $(hospitals) hospitals and the orderer organisation"
  "${COMPOSE[@]}" run --rm --no-deps --user "$(id -u):$(id -g)" tools \
    cryptogen generate --config=crypto-config.yaml --output=organizations
  log "TLS of each peer's connection to its chaincode server, from the hospital's TLS CA"
  "$PYTHON" chaincode_tls.py >/dev/null ||
    die "chaincode_tls.py failed (needs pyyaml and cryptography; PYTHON=... for another python)"
  log "Genesis block of channel $CHANNEL (configtxgen, profile ConsortiumChannel)"
  "${COMPOSE[@]}" run --rm --no-deps --user "$(id -u):$(id -g)" \
    -e FABRIC_CFG_PATH=/work/configtx tools \
    configtxgen -profile ConsortiumChannel -outputBlock "channel-artifacts/$CHANNEL.block" \
    -channelID "$CHANNEL"
  log "Starting orderers, peers and the tools container"
  "${COMPOSE[@]}" up -d
  for i in 0 1 2; do
    local dir=/work/organizations/ordererOrganizations/$DOMAIN/orderers/orderer$i.$DOMAIN/tls
    log "Joining orderer$i to $CHANNEL (osnadmin, channel participation API)"
    retry in_tools osnadmin channel join --channelID "$CHANNEL" \
      --config-block "channel-artifacts/$CHANNEL.block" -o "orderer$i.$DOMAIN:7053" \
      --ca-file "$ORDERER_CA" --client-cert "$dir/server.crt" --client-key "$dir/server.key"
  done
  for i in $(seq 1 "$(hospitals)"); do
    log "Joining peer0.hospital$i to $CHANNEL"
    retry peer_as "$i" channel join -b "channel-artifacts/$CHANNEL.block"
  done
  log "Network up: channel $CHANNEL. Next: ./network.sh deploy"
}

# Hospital $1's package (build/hospital$1/consortium.tar.gz): metadata.json of chaincode/hospital$1/
# and code.tar.gz with the connection.json chaincode_tls.py completed from chaincode/hospital$1/'s:
# hospital $1's own chaincode server, the TLS CA its certificate must come from, and the client
# certificate and key the peer presents to it. The package holds a private key: build/ is
# generated and deleted by `down`, like organizations/.
chaincode_package() {
  local src=chaincode/hospital$1 out=build/hospital$1
  local tls=organizations/peerOrganizations/hospital$1.$DOMAIN/chaincode
  [ -f "$src/metadata.json" ] || die "$src/metadata.json is missing: $REGEN"
  [ -f "$tls/connection.json" ] ||
    die "$tls/connection.json is missing: ./network.sh up issues it (or run $PYTHON chaincode_tls.py)"
  mkdir -p "$out"
  (umask 077 && tar -C "$tls" -czf "$out/code.tar.gz" connection.json)
  cp "$src/metadata.json" "$out/metadata.json"
  (cd "$out" && umask 077 && tar czf "$CC_NAME.tar.gz" metadata.json code.tar.gz)
}

# The compose service a package dials: the host of connection.json's "address".
chaincode_server() {
  sed -n 's/^ *"address": "\([^":]*\):[0-9]*".*/\1/p' "chaincode/hospital$1/connection.json"
}

deploy_chaincode() {
  local seq=${1:-1} n
  n=$(hospitals)
  [ -f ../../chaincode/Dockerfile ] || die "chaincode/Dockerfile is missing"
  local commit_peers=() servers=() chaincode_ids=()
  for i in $(seq 1 "$n"); do
    local domain="hospital$i.$DOMAIN" package="build/hospital$i/$CC_NAME.tar.gz" package_id server
    chaincode_package "$i"
    server=$(chaincode_server "$i")
    [ -n "$server" ] || die "no host:port address in chaincode/hospital$i/connection.json: $REGEN"
    # Each hospital's package differs (it names that hospital's server), so does its package id.
    package_id=$(peer_as "$i" lifecycle chaincode calculatepackageid "$package" | tr -d '\r')
    log "hospital$i: install $package_id (dials $server), approve $CC_NAME $CC_VERSION (sequence $seq)"
    peer_as "$i" lifecycle chaincode install "$package" ||
      log "(already installed on peer0.hospital$i)"
    # The package id is this organisation's own choice, not part of the definition: every
    # hospital approves the same name, version, sequence and policy. No --signature-policy: the
    # definition uses the channel's /Channel/Application/Endorsement policy, MAJORITY
    # Endorsement, i.e. a majority of the hospital organisations' peers.
    peer_as "$i" lifecycle chaincode approveformyorg \
      -o "orderer0.$DOMAIN:7050" --tls --cafile "$ORDERER_CA" --channelID "$CHANNEL" \
      --name "$CC_NAME" --version "$CC_VERSION" --package-id "$package_id" --sequence "$seq"
    servers+=("$server")
    chaincode_ids+=("CHAINCODE_ID_HOSPITAL$i=$package_id")
    commit_peers+=(--peerAddresses "peer0.$domain:7051" --tlsRootCertFiles
      "/work/organizations/peerOrganizations/$domain/tlsca/tlsca.$domain-cert.pem")
  done
  log "Building and starting $n chaincode servers, each with its hospital's package id"
  # As the owner of the TLS keys chaincode_tls.py wrote (0600), which each server reads.
  env "${chaincode_ids[@]}" CHAINCODE_USER="$(id -u):$(id -g)" \
    "${COMPOSE[@]}" --profile chaincode up -d --build "${servers[@]}"
  peer_as 1 lifecycle chaincode checkcommitreadiness --channelID "$CHANNEL" \
    --name "$CC_NAME" --version "$CC_VERSION" --sequence "$seq" --output json
  log "Committing the chaincode definition"
  peer_as 1 lifecycle chaincode commit -o "orderer0.$DOMAIN:7050" --tls \
    --cafile "$ORDERER_CA" --channelID "$CHANNEL" --name "$CC_NAME" --version "$CC_VERSION" \
    --sequence "$seq" "${commit_peers[@]}"
  peer_as 1 lifecycle chaincode querycommitted --channelID "$CHANNEL" --name "$CC_NAME"
  log "Chaincode $CC_NAME committed on $CHANNEL. Next: docs/fabric.md, steps 2-4"
}

network_down() {
  "${COMPOSE[@]}" --profile chaincode down --volumes --remove-orphans || true
  rm -rf organizations channel-artifacts build
  log "Network removed"
}

main() {
  local cmd=${1:-} orgs="" seq=1
  shift || true
  while getopts "n:s:" opt; do
    case $opt in
      n) orgs=$OPTARG ;;
      s) seq=$OPTARG ;;
      *) die "usage: network.sh up [-n N] | deploy [-s SEQUENCE] | down" ;;
    esac
  done
  case $cmd in
    up) network_up "$orgs" ;;
    deploy) deploy_chaincode "$seq" ;;
    down) network_down ;;
    *) die "usage: network.sh up [-n N] | deploy [-s SEQUENCE] | down" ;;
  esac
}

main "$@"
