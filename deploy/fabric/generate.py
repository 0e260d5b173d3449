#!/usr/bin/env python3
"""Write the Fabric 2.5 network files for N hospital organisations and one Raft orderer org.

    python3 deploy/fabric/generate.py --orgs 3        (network.sh up -n 3 runs it)

Writes, next to this script: ``crypto-config.yaml`` (cryptogen), ``configtx/configtx.yaml``
(configtxgen, profile ``ConsortiumChannel``: the application channel's genesis block, no system
channel), ``compose.yaml`` (orderers, peers, one chaincode server per hospital, a tools container)
and ``chaincode/hospitalN/connection.json`` + ``metadata.json`` (hospital N's
chaincode-as-a-service package, which dials hospital N's own server ``consortium-cc-hospitalN``
over mutual TLS). That connection.json has no keys: ``chaincode_tls.py`` (run by ``network.sh
up`` after cryptogen) issues the TLS material from each hospital's TLS CA and writes the complete
one, which network.sh packages. Only needs Python 3 and PyYAML. Names the client relies on
(docs/fabric.md): channel ``consortium``, chaincode ``consortium``, endorsement policy MAJORITY of
the hospitals.

One chaincode server per organisation, never a shared one: a peer endorses what its chaincode
server computed, so whoever runs the server a peer dials decides that organisation's endorsement.
A server shared by every peer would let its operator forge every hospital's endorsement (and stop
all of them at once). Each package names its own organisation's server, so the packages, and the
package ids each organisation approves, differ; the chaincode definition on the channel (name,
version, sequence, policy) is the same for all (decisions/0006-fabric.md).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
CHANNEL = "consortium"
CHAINCODE = "consortium"
CC_VERSION = "1.0"
DOMAIN = "consortium.example"
ORDERERS = 3
PEER_PORT = 7051  # inside the compose network, every peer listens on 7051
CC_SERVICE = "consortium-cc"  # hospital N's chaincode server is consortium-cc-hospitalN
CC_PORT = 9999
CC_TLS = "/etc/consortium/tls"  # where a chaincode container finds its TLS files
IMAGE_TAG = "2.5"


def hospital(i: int) -> dict[str, Any]:
    """Names and ports of hospital organisation ``i`` (1-based), and of its chaincode server."""
    key = f"hospital{i}"
    domain = f"{key}.{DOMAIN}"
    return {
        "key": key,
        "name": f"Hospital{i}",
        "msp_id": f"Hospital{i}MSP",
        "domain": domain,
        "peer": f"peer0.{domain}",
        "host_port": PEER_PORT + 1000 * (i - 1),
        "org_dir": f"organizations/peerOrganizations/{domain}",
        "cc_server": f"{CC_SERVICE}-{key}",
        # network.sh deploy sets it to the package id this hospital's peer installed
        "cc_id_variable": f"CHAINCODE_ID_{key.upper()}",
        # written by chaincode_tls.py (generated, like all of organizations/): the server's TLS
        # files, and the complete connection.json (with the peers' client key) network.sh packages
        "cc_tls_dir": f"organizations/peerOrganizations/{domain}/chaincode/tls",
        "cc_connection": f"organizations/peerOrganizations/{domain}/chaincode/connection.json",
    }


def orderer(i: int) -> dict[str, Any]:
    """Names and ports of orderer ``i`` (0-based)."""
    host = f"orderer{i}.{DOMAIN}"
    return {
        "host": host,
        "host_port": 7050 + 1000 * i,
        "admin_port": 7053 + 1000 * i,
        "dir": f"organizations/ordererOrganizations/{DOMAIN}/orderers/{host}",
    }


def crypto_config(n: int) -> dict[str, Any]:
    """cryptogen input: NodeOUs on, so client/peer/admin/orderer OUs decide the MSP role."""
    return {
        "OrdererOrgs": [
            {
                "Name": "Orderer",
                "Domain": DOMAIN,
                "EnableNodeOUs": True,
                "Specs": [
                    {"Hostname": f"orderer{i}", "SANS": ["localhost", "127.0.0.1"]}
                    for i in range(ORDERERS)
                ],
            }
        ],
        "PeerOrgs": [
            {
                "Name": h["name"],
                "Domain": h["domain"],
                "EnableNodeOUs": True,
                "Template": {"Count": 1, "SANS": ["localhost", "127.0.0.1"]},
                "Users": {"Count": 1},
            }
            for h in map(hospital, range(1, n + 1))
        ],
    }


def _sig(rule: str) -> dict[str, str]:
    return {"Type": "Signature", "Rule": rule}


def _meta(rule: str) -> dict[str, str]:
    return {"Type": "ImplicitMeta", "Rule": rule}


def _hospital_org(h: dict[str, Any]) -> dict[str, Any]:
    m = h["msp_id"]
    return {
        "Name": h["msp_id"],
        "ID": m,
        "MSPDir": f"../{h['org_dir']}/msp",
        "Policies": {
            "Readers": _sig(f"OR('{m}.admin', '{m}.peer', '{m}.client')"),
            "Writers": _sig(f"OR('{m}.admin', '{m}.client')"),
            "Admins": _sig(f"OR('{m}.admin')"),
            "Endorsement": _sig(f"OR('{m}.peer')"),
        },
        # In the genesis block of an application channel, so no anchor-peer update is needed:
        # the gateway's discovery finds the other organisations' peers through them.
        "AnchorPeers": [{"Host": h["peer"], "Port": PEER_PORT}],
    }


def configtx(n: int) -> dict[str, Any]:
    """configtxgen input with one profile, ``ConsortiumChannel`` (Raft, no system channel)."""
    orderer_org = {
        "Name": "OrdererOrg",
        "ID": "OrdererMSP",
        "MSPDir": f"../organizations/ordererOrganizations/{DOMAIN}/msp",
        "Policies": {
            "Readers": _sig("OR('OrdererMSP.member')"),
            "Writers": _sig("OR('OrdererMSP.member')"),
            "Admins": _sig("OR('OrdererMSP.admin')"),
        },
        "OrdererEndpoints": [f"{orderer(i)['host']}:7050" for i in range(ORDERERS)],
    }
    consenters = [
        {
            "Host": o["host"],
            "Port": 7050,
            "ClientTLSCert": f"../{o['dir']}/tls/server.crt",
            "ServerTLSCert": f"../{o['dir']}/tls/server.crt",
        }
        for o in map(orderer, range(ORDERERS))
    ]
    channel_policies = {
        "Readers": _meta("ANY Readers"),
        "Writers": _meta("ANY Writers"),
        "Admins": _meta("MAJORITY Admins"),
    }
    profile = {
        "Policies": channel_policies,
        "Capabilities": {"V2_0": True},
        "Orderer": {
            "OrdererType": "etcdraft",
            "BatchTimeout": "1s",
            "BatchSize": {
                "MaxMessageCount": 100,
                "AbsoluteMaxBytes": "99 MB",
                "PreferredMaxBytes": "2 MB",
            },
            "EtcdRaft": {"Consenters": consenters},
            "Organizations": [orderer_org],
            "Policies": {**channel_policies, "BlockValidation": _meta("ANY Writers")},
            "Capabilities": {"V2_0": True},
        },
        "Application": {
            "Organizations": [_hospital_org(h) for h in map(hospital, range(1, n + 1))],
            "Policies": {
                **channel_policies,
                "LifecycleEndorsement": _meta("MAJORITY Endorsement"),
                "Endorsement": _meta("MAJORITY Endorsement"),
            },
            "Capabilities": {"V2_5": True},
        },
    }
    return {"Profiles": {"ConsortiumChannel": profile}}


def _orderer_service(o: dict[str, Any]) -> dict[str, Any]:
    tls = "/var/hyperledger/orderer/tls"
    return {
        "image": f"hyperledger/fabric-orderer:{IMAGE_TAG}",
        "container_name": o["host"],
        "command": "orderer",
        "environment": {
            "FABRIC_LOGGING_SPEC": "INFO",
            "ORDERER_GENERAL_LISTENADDRESS": "0.0.0.0",
            "ORDERER_GENERAL_LISTENPORT": "7050",
            "ORDERER_GENERAL_LOCALMSPID": "OrdererMSP",
            "ORDERER_GENERAL_LOCALMSPDIR": "/var/hyperledger/orderer/msp",
            "ORDERER_GENERAL_TLS_ENABLED": "true",
            "ORDERER_GENERAL_TLS_PRIVATEKEY": f"{tls}/server.key",
            "ORDERER_GENERAL_TLS_CERTIFICATE": f"{tls}/server.crt",
            "ORDERER_GENERAL_TLS_ROOTCAS": f"[{tls}/ca.crt]",
            "ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE": f"{tls}/server.crt",
            "ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY": f"{tls}/server.key",
            "ORDERER_GENERAL_CLUSTER_ROOTCAS": f"[{tls}/ca.crt]",
            "ORDERER_GENERAL_BOOTSTRAPMETHOD": "none",
            "ORDERER_CHANNELPARTICIPATION_ENABLED": "true",
            "ORDERER_ADMIN_LISTENADDRESS": "0.0.0.0:7053",
            "ORDERER_ADMIN_TLS_ENABLED": "true",
            "ORDERER_ADMIN_TLS_CERTIFICATE": f"{tls}/server.crt",
            "ORDERER_ADMIN_TLS_PRIVATEKEY": f"{tls}/server.key",
            "ORDERER_ADMIN_TLS_ROOTCAS": f"[{tls}/ca.crt]",
            "ORDERER_ADMIN_TLS_CLIENTROOTCAS": f"[{tls}/ca.crt]",
        },
        "volumes": [
            f"./{o['dir']}/msp:/var/hyperledger/orderer/msp:ro",
            f"./{o['dir']}/tls:{tls}:ro",
            f"{o['host']}:/var/hyperledger/production/orderer",
        ],
        "ports": [f"{o['host_port']}:7050", f"{o['admin_port']}:7053"],
        "networks": ["consortium"],
    }


def _peer_service(h: dict[str, Any]) -> dict[str, Any]:
    peer_dir = f"./{h['org_dir']}/peers/{h['peer']}"
    address = f"{h['peer']}:{PEER_PORT}"
    return {
        "image": f"hyperledger/fabric-peer:{IMAGE_TAG}",
        "container_name": h["peer"],
        "command": "peer node start",
        "environment": {
            "FABRIC_LOGGING_SPEC": "INFO",
            "CORE_PEER_ID": h["peer"],
            "CORE_PEER_ADDRESS": address,
            "CORE_PEER_LISTENADDRESS": f"0.0.0.0:{PEER_PORT}",
            "CORE_PEER_CHAINCODEADDRESS": f"{h['peer']}:7052",
            "CORE_PEER_CHAINCODELISTENADDRESS": "0.0.0.0:7052",
            "CORE_PEER_GOSSIP_BOOTSTRAP": address,
            "CORE_PEER_GOSSIP_EXTERNALENDPOINT": address,
            "CORE_PEER_LOCALMSPID": h["msp_id"],
            "CORE_PEER_MSPCONFIGPATH": "/etc/hyperledger/fabric/msp",
            "CORE_PEER_TLS_ENABLED": "true",
            "CORE_PEER_TLS_CERT_FILE": "/etc/hyperledger/fabric/tls/server.crt",
            "CORE_PEER_TLS_KEY_FILE": "/etc/hyperledger/fabric/tls/server.key",
            "CORE_PEER_TLS_ROOTCERT_FILE": "/etc/hyperledger/fabric/tls/ca.crt",
            "CORE_PEER_GATEWAY_ENABLED": "true",
            "CORE_LEDGER_STATE_STATEDATABASE": "goleveldb",
        },
        # msp/ and tls/ are mounted one by one: the image's core.yaml in /etc/hyperledger/fabric
        # (with the built-in ccaas_builder) must stay visible.
        "volumes": [
            f"{peer_dir}/msp:/etc/hyperledger/fabric/msp:ro",
            f"{peer_dir}/tls:/etc/hyperledger/fabric/tls:ro",
            f"{h['peer']}:/var/hyperledger/production",
        ],
        "ports": [f"{h['host_port']}:{PEER_PORT}"],
        "depends_on": [orderer(i)["host"] for i in range(ORDERERS)],
        "networks": ["consortium"],
    }


def _chaincode_service(h: dict[str, Any]) -> dict[str, Any]:
    """Hospital ``h``'s own chaincode server, built from chaincode/ into its own image, serving
    TLS with the certificate chaincode_tls.py issued it and accepting only clients with a
    certificate from its hospital's TLS CA (its peers)."""
    return {
        "build": {"context": "../../chaincode", "dockerfile": "Dockerfile"},
        "image": f"consortium-chaincode-{h['key']}:{CC_VERSION}",
        "container_name": h["cc_server"],
        # The mounted key is 0600 and belongs to whoever ran network.sh, which sets this to them.
        "user": "${CHAINCODE_USER:-node}",
        "environment": {
            "CHAINCODE_SERVER_ADDRESS": f"0.0.0.0:{CC_PORT}",
            "CHAINCODE_ID": f"${{{h['cc_id_variable']}:-set-by-network.sh-deploy}}",
            "CHAINCODE_TLS_KEY_FILE": f"{CC_TLS}/server.key",
            "CHAINCODE_TLS_CERT_FILE": f"{CC_TLS}/server.crt",
            "CHAINCODE_TLS_CLIENT_CACERT_FILE": f"{CC_TLS}/ca.crt",
        },
        "volumes": [f"./{h['cc_tls_dir']}:{CC_TLS}:ro"],
        "profiles": ["chaincode"],
        "networks": ["consortium"],
    }


def compose(n: int) -> dict[str, Any]:
    """The docker compose file: orderers, per hospital a peer and a chaincode server, tools."""
    services: dict[str, Any] = {}
    for o in map(orderer, range(ORDERERS)):
        services[o["host"]] = _orderer_service(o)
    for h in map(hospital, range(1, n + 1)):
        services[h["peer"]] = _peer_service(h)
    volumes = {name: None for name in services}  # the orderers' and peers' ledgers
    for h in map(hospital, range(1, n + 1)):
        services[h["cc_server"]] = _chaincode_service(h)
    services["tools"] = {
        "image": f"hyperledger/fabric-tools:{IMAGE_TAG}",
        "container_name": "consortium-tools",
        "command": "sleep infinity",
        "working_dir": "/work",
        "volumes": ["./:/work"],
        "networks": ["consortium"],
    }
    return {
        "name": "consortium-fabric",
        "services": services,
        "volumes": volumes,
        "networks": {"consortium": {"name": "consortium_fabric"}},
    }


def ccaas_package(h: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """connection.json and metadata.json of hospital ``h``'s chaincode-as-a-service package.

    The peer's built-in ``ccaas_builder`` reads connection.json and dials that address: hospital
    ``h``'s own server, over TLS, presenting a client certificate. The PEM fields Fabric needs
    then (``root_cert``, ``client_cert``, ``client_key``) are added by chaincode_tls.py; they are
    secrets of a running network, never committed. The label (the package id's prefix) is the
    same for every hospital.
    """
    return {
        "connection.json": {
            "address": f"{h['cc_server']}:{CC_PORT}",
            "dial_timeout": "10s",
            "tls_required": True,
            "client_auth_required": True,
        },
        "metadata.json": {"type": "ccaas", "label": f"{CHAINCODE}_{CC_VERSION}"},
    }


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _write_yaml(path: Path, data: Any, header: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.dump(data, Dumper=_NoAliases, sort_keys=False, default_flow_style=False)
    path.write_text(
        f"# {header}\n# Generated by deploy/fabric/generate.py; edit that, not this.\n{text}"
    )


def generate(n: int, out: Path = HERE) -> list[Path]:
    """Write every generated file for ``n`` hospitals under ``out``; return their paths."""
    if n < 1:
        raise ValueError("at least one hospital organisation is needed")
    files = {
        out / "crypto-config.yaml": (
            crypto_config(n),
            "cryptogen generate --config=crypto-config.yaml",
        ),
        out / "configtx" / "configtx.yaml": (configtx(n), "configtxgen -profile ConsortiumChannel"),
        out / "compose.yaml": (
            compose(n),
            f"docker compose: {n} hospitals, {ORDERERS} Raft orderers",
        ),
    }
    for path, (data, header) in files.items():
        _write_yaml(path, data, header)
    _remove_packages_beyond(n, out / "chaincode")
    for h in map(hospital, range(1, n + 1)):
        for name, data in ccaas_package(h).items():
            path = out / "chaincode" / h["key"] / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(data, indent=2) + "\n")
            files[path] = (data, name)
    return list(files)


def _remove_packages_beyond(n: int, folder: Path) -> None:
    """Delete the package folders of hospitals > n left by an earlier, larger network."""
    for stale in folder.glob("hospital*"):
        match = re.fullmatch(r"hospital(\d+)", stale.name)
        if stale.is_dir() and match and int(match[1]) > n:
            for name in ("connection.json", "metadata.json"):
                (stale / name).unlink(missing_ok=True)
            stale.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=3, help="number of hospital organisations")
    parser.add_argument("--out", type=Path, default=HERE, help="where to write (default: here)")
    args = parser.parse_args()
    for path in generate(args.orgs, args.out):
        print(path)


if __name__ == "__main__":
    main()
