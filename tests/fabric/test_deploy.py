"""The Fabric network files agree with each other and with the client (Fabric itself cannot run
here: these checks are what can be verified without it)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from consortium.identity import CertificateAuthority
from consortium.ledger.fabric import DEFAULT_CHAINCODE, DEFAULT_CHANNEL

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "fabric"
# What chaincode/src/server.ts reads: its key, its certificate, the CA its clients must come from.
TLS_VARS = ("CHAINCODE_TLS_KEY_FILE", "CHAINCODE_TLS_CERT_FILE", "CHAINCODE_TLS_CLIENT_CACERT_FILE")


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fabric_generate", DEPLOY / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def four(gen: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("fabric4")
    gen.generate(4, out)
    return {
        "crypto": yaml.safe_load((out / "crypto-config.yaml").read_text()),
        "configtx": yaml.safe_load((out / "configtx" / "configtx.yaml").read_text()),
        "compose": yaml.safe_load((out / "compose.yaml").read_text()),
        "packages": {
            folder.name: {f.name: json.loads(f.read_text()) for f in folder.glob("*.json")}
            for folder in (out / "chaincode").iterdir()
            if folder.is_dir()
        },
    }


def _profile(files: dict[str, Any]) -> dict[str, Any]:
    return files["configtx"]["Profiles"]["ConsortiumChannel"]  # type: ignore[no-any-return]


def test_every_hospital_org_is_consistent_across_files(four: dict[str, Any]) -> None:
    orgs = _profile(four)["Application"]["Organizations"]
    peer_orgs = {o["Domain"] for o in four["crypto"]["PeerOrgs"]}
    services = four["compose"]["services"]

    assert [o["ID"] for o in orgs] == [f"Hospital{i}MSP" for i in range(1, 5)]
    for org in orgs:
        domain = org["MSPDir"].split("/")[-2]
        assert domain in peer_orgs
        assert org["MSPDir"] == f"../organizations/peerOrganizations/{domain}/msp"
        [anchor] = org["AnchorPeers"]
        peer = services[anchor["Host"]]
        env = peer["environment"]
        assert env["CORE_PEER_LOCALMSPID"] == org["ID"]
        assert env["CORE_PEER_LISTENADDRESS"].endswith(f":{anchor['Port']}")
        assert f"/peerOrganizations/{domain}/peers/{anchor['Host']}/msp:" in peer["volumes"][0]
        assert env["CORE_PEER_GATEWAY_ENABLED"] == "true"


def test_endorsement_policy_is_a_majority_of_hospitals(four: dict[str, Any]) -> None:
    app = _profile(four)["Application"]
    assert app["Policies"]["Endorsement"] == {
        "Type": "ImplicitMeta",
        "Rule": "MAJORITY Endorsement",
    }
    assert app["Policies"]["LifecycleEndorsement"]["Rule"] == "MAJORITY Endorsement"
    for org in app["Organizations"]:
        assert org["Policies"]["Endorsement"]["Rule"] == f"OR('{org['ID']}.peer')"


def test_raft_consenters_are_the_orderer_services(four: dict[str, Any]) -> None:
    orderer = _profile(four)["Orderer"]
    [orderer_org] = four["crypto"]["OrdererOrgs"]
    hosts = {f"{s['Hostname']}.{orderer_org['Domain']}" for s in orderer_org["Specs"]}
    consenters = orderer["EtcdRaft"]["Consenters"]

    assert orderer["OrdererType"] == "etcdraft"
    assert {c["Host"] for c in consenters} == hosts
    for c in consenters:
        env = four["compose"]["services"][c["Host"]]["environment"]
        assert env["ORDERER_GENERAL_BOOTSTRAPMETHOD"] == "none"  # no system channel
        assert env["ORDERER_CHANNELPARTICIPATION_ENABLED"] == "true"
        assert c["ClientTLSCert"].endswith(f"/orderers/{c['Host']}/tls/server.crt")
        assert env["ORDERER_GENERAL_LISTENPORT"] == str(c["Port"])


def test_host_ports_do_not_collide(four: dict[str, Any]) -> None:
    ports = [
        p.split(":")[0] for s in four["compose"]["services"].values() for p in s.get("ports", [])
    ]
    assert len(ports) == len(set(ports)) == 3 * 2 + 4


def _chaincode_servers(compose: dict[str, Any]) -> dict[str, Any]:
    return {
        name: service
        for name, service in compose["services"].items()
        if "CHAINCODE_SERVER_ADDRESS" in service.get("environment", {})
    }


def test_each_hospital_dials_its_own_chaincode_server(four: dict[str, Any]) -> None:
    # An organisation's endorsement must come from a chaincode execution it runs: with one
    # server shared by every peer, whoever runs it would forge every organisation's endorsement.
    orgs = _profile(four)["Application"]["Organizations"]
    short = {o["ID"]: o["MSPDir"].split("/")[-2].split(".")[0] for o in orgs}
    servers = _chaincode_servers(four["compose"])

    assert sorted(four["packages"]) == sorted(short.values()), "one package per organisation"
    addresses = {org: four["packages"][s]["connection.json"]["address"] for org, s in short.items()}
    assert len(set(addresses.values())) == len(orgs), f"organisations share a server: {addresses}"
    assert {a.split(":")[0] for a in addresses.values()} == set(servers)
    for org, address in addresses.items():
        host, port = address.split(":")
        assert host == f"consortium-cc-{short[org]}", f"{org}'s package dials {host}"
        assert servers[host]["environment"]["CHAINCODE_SERVER_ADDRESS"] == f"0.0.0.0:{port}"
        assert servers[host]["build"]["context"] == "../../chaincode"
        assert four["packages"][short[org]]["metadata.json"]["type"] == "ccaas"
    chaincode_ids = [s["environment"]["CHAINCODE_ID"] for s in servers.values()]
    assert len(set(chaincode_ids)) == len(orgs), f"servers share a CHAINCODE_ID: {chaincode_ids}"


def host_file(service: dict[str, Any], container_path: str) -> str:
    """The host path (relative to compose.yaml) of the volume ``container_path`` lies on."""
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if container_path.startswith(target.rstrip("/") + "/"):
            return source + container_path[len(target.rstrip("/")) :]
    raise AssertionError(f"{container_path} is on no volume of {service['container_name']}")


def test_each_peer_dials_its_chaincode_server_over_mutual_tls(four: dict[str, Any]) -> None:
    # Without TLS whoever answers at the server's address decides the organisation's endorsement;
    # the peer must check it reached its own organisation's server, and the server must serve only
    # its own organisation's peers.
    servers = _chaincode_servers(four["compose"])
    for key, package in four["packages"].items():
        connection = package["connection.json"]
        assert connection["tls_required"] is True, f"{key}'s peer dials its server in plaintext"
        assert connection["client_auth_required"] is True, f"{key}'s server takes any client"
        server = servers[connection["address"].split(":")[0]]
        own = f"./organizations/peerOrganizations/{key}.consortium.example/"
        for var in TLS_VARS:
            assert host_file(server, server["environment"][var]).startswith(own), var


def test_names_match_what_the_client_expects(gen: ModuleType) -> None:
    script = (DEPLOY / "network.sh").read_text()
    assert gen.CHANNEL == DEFAULT_CHANNEL
    assert gen.CHAINCODE == DEFAULT_CHAINCODE
    assert re.search(rf"^CHANNEL={DEFAULT_CHANNEL}$", script, re.M)
    assert re.search(rf"^CC_NAME={DEFAULT_CHAINCODE}$", script, re.M)
    assert re.search(rf"^CC_VERSION={re.escape(gen.CC_VERSION)}$", script, re.M)


def test_the_hand_made_package_has_the_deployed_label(gen: ModuleType) -> None:
    # chaincode/caas/ packages by hand what network.sh packages per hospital: the label (the
    # package id's prefix, shown by `peer lifecycle chaincode queryinstalled`) is the same.
    caas = DEPLOY.parents[1] / "chaincode" / "caas"
    metadata = json.loads((caas / "metadata.json").read_text())
    assert metadata["label"] == f"{gen.CHAINCODE}_{gen.CC_VERSION}"

    package = gen.ccaas_package(gen.hospital(1))
    connection = json.loads((caas / "connection.json").read_text())
    assert metadata == package["metadata.json"]
    assert connection.keys() == package["connection.json"].keys()
    assert connection["tls_required"] == package["connection.json"]["tls_required"]


def test_the_hand_made_package_carries_the_tls_material(tmp_path: Path) -> None:
    # Arrange: a copy of chaincode/caas/ and the PEM files an organisation would give it.
    caas = tmp_path / "caas"
    source = DEPLOY.parents[1] / "chaincode" / "caas"
    shutil.copytree(source, caas, ignore=shutil.ignore_patterns("consortium.tar.gz"))
    ca = CertificateAuthority.create("tlsca.hospital1.consortium.example")
    cert, key = ca.issue("chaincode-client", [], "client")
    pems = {
        "root_cert": ca.cert_pem,
        "client_cert": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "client_key": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    }
    for field, pem in pems.items():
        (tmp_path / f"{field}.pem").write_text(pem)
    files = [str(tmp_path / f"{field}.pem") for field in pems]

    # Act
    made = subprocess.run(
        ["sh", str(caas / "package.sh"), "cc.hospital1.example:7052", *files],
        capture_output=True,
        text=True,
    )
    missing = subprocess.run(
        ["sh", str(caas / "package.sh"), "cc.hospital1.example:7052", *files[:2], "absent.pem"],
        capture_output=True,
        text=True,
    )

    # Assert: the template's settings, the address given, and the PEM text inline.
    assert made.returncode == 0, made.stderr
    connection = _read_package(caas / "consortium.tar.gz")["connection"]
    template = json.loads((source / "connection.json").read_text())
    assert connection == {**template, "address": "cc.hospital1.example:7052", **pems}
    assert stat.S_IMODE((caas / "consortium.tar.gz").stat().st_mode) == 0o600
    assert missing.returncode == 2
    assert "cannot read absent.pem" in missing.stderr


def test_committed_files_are_the_generated_three_hospital_network(
    gen: ModuleType, tmp_path: Path
) -> None:
    generated = gen.generate(3, tmp_path)
    for path in generated:
        committed = DEPLOY / path.relative_to(tmp_path)
        assert committed.read_text() == path.read_text(), f"{committed} is stale: rerun generate.py"
    packages = {p.relative_to(DEPLOY) for p in (DEPLOY / "chaincode").rglob("*") if p.is_file()}
    assert packages == {p.relative_to(tmp_path) for p in generated if "chaincode" in p.parts}


def test_a_smaller_network_leaves_no_package_of_a_removed_hospital(
    gen: ModuleType, tmp_path: Path
) -> None:
    gen.generate(4, tmp_path)
    gen.generate(2, tmp_path)
    assert sorted(p.name for p in (tmp_path / "chaincode").iterdir()) == ["hospital1", "hospital2"]


def test_network_script_is_valid_bash() -> None:
    result = subprocess.run(
        ["bash", "-n", str(DEPLOY / "network.sh")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


# A stand-in for `docker`: records every call (with the CHAINCODE_* variables it was given and
# the -e settings of `compose exec`) as one JSON line, and answers `calculatepackageid` the way
# the peer does: the package's label, a colon, and the SHA-256 of the package file.
FAKE_DOCKER = """#!{python}
import hashlib, io, json, os, sys, tarfile
args = sys.argv[1:]
settings = dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "-e")
ids = {{k: v for k, v in os.environ.items() if k.startswith("CHAINCODE_")}}
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps({{"args": args, "exec_env": settings, "env": ids}}) + "\\n")
if "calculatepackageid" in args:
    path = args[args.index("calculatepackageid") + 1]
    data = open(path, "rb").read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        label = json.load(tar.extractfile("metadata.json"))["label"]
    print(label + ":" + hashlib.sha256(data).hexdigest())
"""


def _read_package(path: Path) -> dict[str, Any]:
    with tarfile.open(path) as outer:
        metadata = json.load(outer.extractfile("metadata.json"))  # type: ignore[arg-type]
        with tarfile.open(fileobj=outer.extractfile("code.tar.gz")) as code:
            connection = json.load(code.extractfile("connection.json"))  # type: ignore[arg-type]
    return {"metadata": metadata, "connection": connection}


def _interpolate(value: str, env: dict[str, str]) -> str:
    """docker compose's ``${VAR:-default}`` substitution, the only form compose.yaml uses."""
    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m[1]) or m[2], value)


def fake_cryptogen_tls_cas(gen: ModuleType, deploy: Path, n: int) -> dict[str, str]:
    """What cryptogen leaves of each hospital's TLS CA (``tlsca/``: its certificate and
    ``priv_sk``); the stand-in `docker` runs no cryptogen. Returns MSP id -> CA certificate PEM."""
    cas = {}
    for h in map(gen.hospital, range(1, n + 1)):
        tlsca = deploy / h["org_dir"] / "tlsca"
        ca = CertificateAuthority.create(f"tlsca.{h['domain']}")
        ca.save(tlsca / f"tlsca.{h['domain']}-cert.pem", tlsca / "priv_sk")
        cas[h["msp_id"]] = ca.cert_pem
    return cas


def _network(gen: ModuleType, tmp_path: Path, n: int, *commands: str) -> dict[str, Any]:
    """Run ``network.sh COMMAND`` for each command on a copy of deploy/fabric for ``n``
    hospitals, with `docker` replaced by the recorder above; return the folder, the recorded
    calls, the compose file and the TLS CAs."""
    deploy = tmp_path / "deploy" / "fabric"
    gen.generate(n, deploy)
    for script in ("network.sh", "generate.py", "chaincode_tls.py"):
        shutil.copy(DEPLOY / script, deploy / script)
    (tmp_path / "chaincode").mkdir()
    (tmp_path / "chaincode" / "Dockerfile").write_text("FROM scratch\n")
    cas = fake_cryptogen_tls_cas(gen, deploy, n)
    (tmp_path / "bin").mkdir()
    docker = tmp_path / "bin" / "docker"
    docker.write_text(FAKE_DOCKER.format(python=sys.executable))
    docker.chmod(0o755)
    log = tmp_path / "docker.log"
    env = {**os.environ, "PATH": f"{docker.parent}:{os.environ['PATH']}"}
    env.update(FAKE_DOCKER_LOG=str(log), PYTHON=sys.executable)
    for command in commands:
        result = subprocess.run(
            ["bash", str(deploy / "network.sh"), command], env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, f"network.sh {command}: {result.stderr}"
    return {
        "deploy": deploy,
        "calls": [json.loads(line) for line in log.read_text().splitlines()],
        "compose": yaml.safe_load((deploy / "compose.yaml").read_text()),
        "tls_cas": cas,
    }


def _installed(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """MSP id -> the package its peer installed (contents, and ``package_id`` as the peer
    computes it)."""
    peers = {
        name: s["environment"]["CORE_PEER_LOCALMSPID"]
        for name, s in run["compose"]["services"].items()
        if "CORE_PEER_LOCALMSPID" in s.get("environment", {})
    }
    installed = {}
    for call in run["calls"]:
        args, msp = call["args"], call["exec_env"].get("CORE_PEER_LOCALMSPID")
        if "install" in args:
            assert peers[call["exec_env"]["CORE_PEER_ADDRESS"].split(":")[0]] == msp
            package = run["deploy"] / args[-1]
            contents = _read_package(package)
            digest = hashlib.sha256(package.read_bytes()).hexdigest()
            contents["package_id"] = f"{contents['metadata']['label']}:{digest}"
            installed[msp] = contents
    assert sorted(installed) == sorted(peers.values()), "every organisation installs a package"
    return installed


def _started(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The chaincode servers `compose up` started: name -> its service, with the variables
    compose substitutes from network.sh's environment filled in."""
    started = {}
    for call in run["calls"]:
        if "up" not in call["args"]:
            continue
        for name in call["args"][call["args"].index("up") + 1 :]:
            if not name.startswith("-"):
                service = json.dumps(run["compose"]["services"][name])
                started[name] = json.loads(_interpolate(service, call["env"]))
    return started


def test_deploy_starts_one_server_per_organisation_with_its_own_package_id(
    gen: ModuleType, tmp_path: Path
) -> None:
    # Arrange / Act: a four-hospital network brought up and deployed by the recorder.
    run = _network(gen, tmp_path, 4, "up", "deploy")

    # Assert
    installed = _installed(run)
    approved = {
        call["exec_env"]["CORE_PEER_LOCALMSPID"]: args[args.index("--package-id") + 1]
        for call in run["calls"]
        if "approveformyorg" in (args := call["args"])
    }
    server_of = {msp: p["connection"]["address"].split(":")[0] for msp, p in installed.items()}
    started = _started(run)
    assert approved == {msp: p["package_id"] for msp, p in installed.items()}, (
        "each organisation approves the package it installed"
    )
    assert len(set(server_of.values())) == len(installed), f"servers are shared: {server_of}"
    assert len(started) == len(installed), f"{len(started)} servers for {len(installed)} orgs"
    for msp, server in server_of.items():
        assert started[server]["environment"]["CHAINCODE_ID"] == installed[msp]["package_id"], (
            f"{server} runs another package than {msp}'s"
        )


def _pem_key(pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(pem, password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _public(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_each_installed_package_reaches_its_own_server_over_mutual_tls(
    gen: ModuleType, tmp_path: Path
) -> None:
    # Arrange / Act: up (cryptogen's TLS CAs, then the chaincode TLS material), then deploy.
    run = _network(gen, tmp_path, 3, "up", "deploy")

    # Assert: what the peer gets (the installed package's connection.json, Fabric 2.5's ccaas
    # fields, PEM inline) fits what the server it dials is started with (the files compose
    # mounts for CHAINCODE_TLS_*), and both come from the organisation's own TLS CA.
    started = _started(run)
    client_certs, client_cas = {}, {}
    for msp, package in _installed(run).items():
        connection = package["connection"]
        host = connection["address"].split(":")[0]
        server = started[host]
        mounted = {
            var: run["deploy"] / host_file(server, server["environment"][var]) for var in TLS_VARS
        }
        key_file, cert_file, client_ca_file = (mounted[var] for var in TLS_VARS)
        assert connection["tls_required"] is True and connection["client_auth_required"] is True
        assert connection["root_cert"] == run["tls_cas"][msp], f"{msp}'s peer trusts another CA"
        assert client_ca_file.read_text() == run["tls_cas"][msp], f"{host} trusts another CA"
        # The peer checks the server's certificate for the name it dials (serverAuth).
        server_cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        root = Store([x509.load_pem_x509_certificate(connection["root_cert"].encode())])
        PolicyBuilder().store(root).build_server_verifier(x509.DNSName(host)).verify(
            server_cert, []
        )
        assert _pem_key(key_file.read_bytes()) == _public(server_cert)
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        # The server checks the peer's client certificate (clientAuth) against its CA file.
        client_cert = x509.load_pem_x509_certificate(connection["client_cert"].encode())
        client_ca = Store([x509.load_pem_x509_certificate(client_ca_file.read_bytes())])
        PolicyBuilder().store(client_ca).build_client_verifier().verify(client_cert, [])
        assert _pem_key(connection["client_key"].encode()) == _public(client_cert)
        # The key file is 0600 and the server runs as its owner, the user who ran network.sh.
        assert server["user"] == f"{os.getuid()}:{os.getgid()}"
        client_certs[msp], client_cas[msp] = client_cert, client_ca
    for msp, client_cert in client_certs.items():
        for other, client_ca in client_cas.items():
            if other != msp:
                with pytest.raises(VerificationError):  # no peer is served by another's server
                    PolicyBuilder().store(client_ca).build_client_verifier().verify(client_cert, [])
