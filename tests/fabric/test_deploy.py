"""The Fabric network files agree with each other and with the client (Fabric itself cannot run
here: these checks are what can be verified without it)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from consortium.ledger.fabric import DEFAULT_CHAINCODE, DEFAULT_CHANNEL

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "fabric"


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


# A stand-in for `docker`: records every call (with the CHAINCODE_ID* variables it was given and
# the -e settings of `compose exec`) as one JSON line, and answers `calculatepackageid` the way
# the peer does: the package's label, a colon, and the SHA-256 of the package file.
FAKE_DOCKER = """#!{python}
import hashlib, io, json, os, sys, tarfile
args = sys.argv[1:]
settings = dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "-e")
ids = {{k: v for k, v in os.environ.items() if k.startswith("CHAINCODE_ID")}}
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


def test_deploy_starts_one_server_per_organisation_with_its_own_package_id(
    gen: ModuleType, tmp_path: Path
) -> None:
    # Arrange: a four-hospital deploy folder, and `docker` replaced by the recorder above.
    deploy = tmp_path / "deploy" / "fabric"
    gen.generate(4, deploy)
    shutil.copy(DEPLOY / "network.sh", deploy / "network.sh")
    (tmp_path / "chaincode").mkdir()
    (tmp_path / "chaincode" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "bin").mkdir()
    docker = tmp_path / "bin" / "docker"
    docker.write_text(FAKE_DOCKER.format(python=sys.executable))
    docker.chmod(0o755)
    log = tmp_path / "docker.log"
    env = {**os.environ, "PATH": f"{docker.parent}:{os.environ['PATH']}"}
    env["FAKE_DOCKER_LOG"] = str(log)

    # Act
    result = subprocess.run(
        ["bash", str(deploy / "network.sh"), "deploy"], env=env, capture_output=True, text=True
    )

    # Assert
    assert result.returncode == 0, result.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    compose = yaml.safe_load((deploy / "compose.yaml").read_text())
    peers = {
        name: s["environment"]["CORE_PEER_LOCALMSPID"]
        for name, s in compose["services"].items()
        if "CORE_PEER_LOCALMSPID" in s.get("environment", {})
    }
    installed: dict[str, str] = {}  # MSP id -> package id of what it installed
    approved: dict[str, str] = {}  # MSP id -> package id it approved
    server_of: dict[str, str] = {}  # MSP id -> the server its package dials
    for call in calls:
        args, msp = call["args"], call["exec_env"].get("CORE_PEER_LOCALMSPID")
        if "install" in args:
            assert peers[call["exec_env"]["CORE_PEER_ADDRESS"].split(":")[0]] == msp
            package = deploy / args[-1]
            contents = _read_package(package)
            digest = hashlib.sha256(package.read_bytes()).hexdigest()
            installed[msp] = f"{contents['metadata']['label']}:{digest}"
            server_of[msp] = contents["connection"]["address"].split(":")[0]
        if "approveformyorg" in args:
            approved[msp] = args[args.index("--package-id") + 1]
    started = {
        name: _interpolate(compose["services"][name]["environment"]["CHAINCODE_ID"], call["env"])
        for call in calls
        if "up" in call["args"]
        for name in call["args"][call["args"].index("up") + 1 :]
        if not name.startswith("-")
    }
    assert sorted(installed) == sorted(peers.values()), "every organisation installs a package"
    assert approved == installed, "each organisation approves the package it installed"
    assert len(set(server_of.values())) == len(peers), f"servers are shared: {server_of}"
    assert len(started) == len(peers), f"{len(started)} chaincode servers for {len(peers)} orgs"
    for msp, server in server_of.items():
        assert started[server] == installed[msp], f"{server} runs another package than {msp}'s"
