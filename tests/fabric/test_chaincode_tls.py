"""The TypeScript chaincode server (chaincode/src/server.ts) on the TLS material the deployment
issues, dialled the way a Fabric 2.5 peer dials a chaincode-as-a-service server: gRPC over TLS
with the package's connection.json (``root_cert`` to check the server for the name it dials,
``client_cert``/``client_key`` to present), then ``protos.Chaincode/Connect``, on which the
server's first message is REGISTER with its ``CHAINCODE_ID``.

The server runs with the environment and files compose.yaml gives hospital 1's chaincode
container (``CHAINCODE_TLS_*`` on the mounted folder); the material is what network.sh has
``chaincode_tls.py`` write after cryptogen, here from stand-in TLS CAs. Needs Node and the
chaincode's node_modules (`make chaincode-deps`); without them the test fails, it does not skip.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import pytest
import yaml
from fabric_protos.peer import chaincode_pb2, chaincode_shim_pb2, chaincode_shim_pb2_grpc

from .test_deploy import DEPLOY, TLS_VARS, fake_cryptogen_tls_cas, host_file

CHAINCODE = DEPLOY.parents[1] / "chaincode"
CCID = "consortium_1.0:" + "ab" * 32


@pytest.fixture(scope="module")
def server_js(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """chaincode/src compiled (tsconfig.build.json) into a temporary folder."""
    node = shutil.which("node")
    tsc = CHAINCODE / "node_modules" / "typescript" / "bin" / "tsc"
    if node is None:
        pytest.fail("node is not on PATH: this test needs Node 20 (see chaincode/)")
    if not tsc.is_file():
        pytest.fail(f"{tsc.parents[2]} lacks the chaincode's packages: run `make chaincode-deps`")
    out = tmp_path_factory.mktemp("chaincode-dist")
    built = subprocess.run(
        [node, str(tsc), "-p", str(CHAINCODE / "tsconfig.build.json"), "--outDir", str(out)],
        capture_output=True,
        text=True,
    )
    if built.returncode != 0:
        pytest.fail(f"the chaincode does not compile:\n{built.stdout}{built.stderr}")
    return out / "src" / "server.js"


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A two-hospital deploy folder after `network.sh up`'s crypto steps."""
    spec = importlib.util.spec_from_file_location("fabric_generate", DEPLOY / "generate.py")
    assert spec and spec.loader
    gen: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    deploy = tmp_path_factory.mktemp("fabric") / "deploy" / "fabric"
    gen.generate(2, deploy)
    for script in ("generate.py", "chaincode_tls.py"):
        shutil.copy(DEPLOY / script, deploy / script)
    fake_cryptogen_tls_cas(gen, deploy, 2)
    issued = subprocess.run(
        [sys.executable, str(deploy / "chaincode_tls.py")], capture_output=True, text=True
    )
    assert issued.returncode == 0, issued.stderr
    hospitals = [gen.hospital(i) for i in (1, 2)]
    return {
        "deploy": deploy,
        "compose": yaml.safe_load((deploy / "compose.yaml").read_text()),
        "connections": [json.loads((deploy / h["cc_connection"]).read_text()) for h in hospitals],
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(server_js: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    modules = CHAINCODE / "node_modules"
    env = {
        **os.environ,
        "NODE_PATH": str(modules),
        "CORE_CHAINCODE_LOGGING_LEVEL": "CRITICAL",
        **env,
    }
    return subprocess.Popen(
        [shutil.which("node") or "node", str(server_js)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def hospital1_server(server_js: Path, network: dict[str, Any]) -> Iterator[str]:
    """Hospital 1's chaincode server, configured as compose.yaml configures its container, on a
    local port; yields its address."""
    [connection, _] = network["connections"]
    service = network["compose"]["services"][connection["address"].split(":")[0]]
    files = {
        var: str(network["deploy"] / host_file(service, service["environment"][var]))
        for var in TLS_VARS
    }
    port = _free_port()
    address = f"127.0.0.1:{port}"
    process = _start(
        server_js, {"CHAINCODE_SERVER_ADDRESS": address, "CHAINCODE_ID": CCID, **files}
    )
    deadline = time.monotonic() + 30
    while True:  # until it listens (or has stopped)
        if process.poll() is not None:
            pytest.fail(f"the chaincode server stopped: {process.communicate()[1]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail("the chaincode server did not listen within 30 s")
            time.sleep(0.2)
    yield address
    process.terminate()
    process.wait(timeout=10)


def _dial(
    address: str,
    *,
    root_cert: str,
    server_name: str,
    client_cert: str | None = None,
    client_key: str | None = None,
) -> chaincode_shim_pb2.ChaincodeMessage:
    """Open Chaincode/Connect as a peer does and return the server's first message."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=root_cert.encode(),
        private_key=client_key.encode() if client_key else None,
        certificate_chain=client_cert.encode() if client_cert else None,
    )
    options = [("grpc.ssl_target_name_override", server_name)]
    stop = threading.Event()

    def requests() -> Iterator[chaincode_shim_pb2.ChaincodeMessage]:
        stop.wait()  # the peer's side of the stream stays open while we read
        yield from ()

    with grpc.secure_channel(address, credentials, options=options) as channel:
        stub = chaincode_shim_pb2_grpc.ChaincodeStub(channel)
        call = stub.Connect(requests(), timeout=15)
        try:
            return next(call)
        finally:
            stop.set()
            call.cancel()


def _peer(connection: dict[str, Any]) -> dict[str, str]:
    """What a peer takes from connection.json to dial (ccaas_builder's fields)."""
    return {
        "root_cert": connection["root_cert"],
        "server_name": connection["address"].split(":")[0],
        "client_cert": connection["client_cert"],
        "client_key": connection["client_key"],
    }


def _registers(address: str, peer: dict[str, str]) -> None:
    first = _dial(address, **peer)
    assert first.type == chaincode_shim_pb2.ChaincodeMessage.REGISTER
    registered = chaincode_pb2.ChaincodeID()
    registered.ParseFromString(first.payload)
    assert registered.name == CCID


def test_the_peer_with_its_package_reaches_its_chaincode_server(
    hospital1_server: str, network: dict[str, Any]
) -> None:
    # Act / Assert: hospital 1's peer, dialling with what its package says, reaches the server,
    # which registers under the package id over the mutual TLS connection.
    _registers(hospital1_server, _peer(network["connections"][0]))


def _refused(address: str, network: dict[str, Any], **peer: str | None) -> grpc.StatusCode:
    """The status a peer dialling with ``peer`` gets, while the right peer still gets in."""
    with pytest.raises(grpc.RpcError) as refused:
        _dial(address, **peer)  # type: ignore[arg-type]
    _registers(address, _peer(network["connections"][0]))
    return refused.value.code()  # type: ignore[no-any-return]


def test_the_server_refuses_a_client_without_a_certificate(
    hospital1_server: str, network: dict[str, Any]
) -> None:
    peer = {**_peer(network["connections"][0]), "client_cert": None, "client_key": None}
    assert _refused(hospital1_server, network, **peer) == grpc.StatusCode.UNAVAILABLE


def test_the_server_refuses_another_organisations_peer(
    hospital1_server: str, network: dict[str, Any]
) -> None:
    # Hospital 2's peer (its package's client certificate, from hospital 2's TLS CA), even
    # trusting hospital 1's root and dialling hospital 1's server by its name.
    hospital1, hospital2 = map(_peer, network["connections"])
    peer = {
        **hospital2,
        "root_cert": hospital1["root_cert"],
        "server_name": hospital1["server_name"],
    }
    assert _refused(hospital1_server, network, **peer) == grpc.StatusCode.UNAVAILABLE


def test_a_peer_refuses_a_server_that_is_not_the_one_its_package_names(
    hospital1_server: str, network: dict[str, Any]
) -> None:
    hospital1, hospital2 = map(_peer, network["connections"])
    # Hospital 2's peer, dialling consortium-cc-hospital2 but reaching hospital 1's server: the
    # certificate names another host, and comes from a CA hospital 2 does not trust.
    assert _refused(hospital1_server, network, **hospital2) == grpc.StatusCode.UNAVAILABLE
    # Hospital 1's CA, but not the name the certificate carries.
    peer = {**hospital1, "server_name": hospital2["server_name"]}
    assert _refused(hospital1_server, network, **peer) == grpc.StatusCode.UNAVAILABLE


def test_a_half_configured_tls_server_refuses_to_start(server_js: Path, tmp_path: Path) -> None:
    # A key without its certificate must not quietly serve in plaintext.
    key = tmp_path / "server.key"
    key.write_text("not read: the configuration is refused first\n")
    env = {
        "CHAINCODE_SERVER_ADDRESS": f"127.0.0.1:{_free_port()}",
        "CHAINCODE_ID": CCID,
        "CHAINCODE_TLS_KEY_FILE": str(key),
    }
    process = _start(server_js, env)
    try:
        _, stderr = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("the server started with CHAINCODE_TLS_KEY_FILE alone (plaintext)")
    assert process.returncode == 2
    assert "CHAINCODE_TLS_CERT_FILE" in stderr


def test_an_unreadable_tls_file_is_named(server_js: Path, tmp_path: Path) -> None:
    missing = tmp_path / "absent" / "server.crt"
    env = {
        "CHAINCODE_SERVER_ADDRESS": f"127.0.0.1:{_free_port()}",
        "CHAINCODE_ID": CCID,
        "CHAINCODE_TLS_KEY_FILE": str(missing.with_name("server.key")),
        "CHAINCODE_TLS_CERT_FILE": str(missing),
    }
    process = _start(server_js, env)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 2
    assert f"CHAINCODE_TLS_KEY_FILE={missing.with_name('server.key')}" in stderr
