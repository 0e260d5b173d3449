"""The Fabric network files agree with each other and with the client (Fabric itself cannot run
here: these checks are what can be verified without it)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
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
        "connection": json.loads((out / "chaincode" / "connection.json").read_text()),
        "metadata": json.loads((out / "chaincode" / "metadata.json").read_text()),
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


def test_chaincode_package_points_at_the_chaincode_service(four: dict[str, Any]) -> None:
    host, port = four["connection"]["address"].split(":")
    service = four["compose"]["services"][host]
    assert service["environment"]["CHAINCODE_SERVER_ADDRESS"] == f"0.0.0.0:{port}"
    assert service["build"]["context"] == "../../chaincode"
    assert four["metadata"]["type"] == "ccaas"


def test_names_match_what_the_client_expects(gen: ModuleType) -> None:
    script = (DEPLOY / "network.sh").read_text()
    assert gen.CHANNEL == DEFAULT_CHANNEL
    assert gen.CHAINCODE == DEFAULT_CHAINCODE
    assert re.search(rf"^CHANNEL={DEFAULT_CHANNEL}$", script, re.M)
    assert re.search(rf"^CC_NAME={DEFAULT_CHAINCODE}$", script, re.M)


def test_committed_files_are_the_generated_three_hospital_network(
    gen: ModuleType, tmp_path: Path
) -> None:
    for path in gen.generate(3, tmp_path):
        committed = DEPLOY / path.relative_to(tmp_path)
        assert committed.read_text() == path.read_text(), f"{committed} is stale: rerun generate.py"


def test_network_script_is_valid_bash() -> None:
    result = subprocess.run(
        ["bash", "-n", str(DEPLOY / "network.sh")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
