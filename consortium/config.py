"""`consortium.toml`: the description of one consortium directory, read by every later command.

Paths in the file are relative to the directory that holds it, so a consortium directory can be
moved or copied (e.g. to another machine) as a whole. `ConsortiumConfig.load` resolves them.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from consortium.blobs import check_blob_url
from consortium.identity import DEFAULT_MSP_ID

__all__ = [
    "CONFIG_NAME",
    "BlobsConfig",
    "ConfigError",
    "ConsortiumConfig",
    "FabricConfig",
    "LedgerConfig",
    "MemberEntry",
    "validation_text",
]

CONFIG_NAME = "consortium.toml"


def validation_text(exc: ValidationError, most: int = 3) -> str:
    """pydantic's errors in one line, each as ``key.path: why`` (at most ``most``, then how many
    more): its own report spans lines, with input types and a link to its documentation.

    A message that starts with its key's name (`consortium.bounds`: "norm_z_max must be ...")
    gets the path in place of that name, said once: ``verifier.norm_z_max must be ...``."""
    found = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        why = error["msg"].removeprefix("Value error, ")
        if loc and why.startswith(f"{loc[-1]} "):
            found.append(".".join([*loc[:-1], why]))
        elif loc:
            found.append(f"{'.'.join(loc)}: {why}")
        else:  # no key: a check of the whole file
            found.append(why)
    more = f" (and {len(found) - most} more)" if len(found) > most else ""
    return "; ".join(found[:most]) + more


class ConfigError(ValueError):
    """A consortium directory or `consortium.toml` that cannot be used."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FabricConfig(_Strict):
    """Reserved for the Fabric backend: how to reach a gateway peer."""

    peer_endpoint: str | None = None
    tls_ca: str | None = None
    msp_id: str | None = None
    channel: str | None = None
    chaincode: str | None = None
    server_name_override: str | None = None


class LedgerConfig(_Strict):
    """Which ledger backend, and where the embedded one keeps its SQLite file."""

    backend: Literal["embedded", "fabric"] = "embedded"
    path: str = "ledger/ledger.sqlite"
    # "normal": committed blocks survive any process crash; "full": also power cuts (fsync/block).
    sync: Literal["normal", "full"] = "normal"
    fabric: FabricConfig = Field(default_factory=FabricConfig)


class BlobsConfig(_Strict):
    """Where encrypted updates and models are stored (``file://`` relative to the directory)."""

    url: str = "file://blobs"

    @field_validator("url")
    @classmethod
    def _a_store(cls, url: str) -> str:
        check_blob_url(url)
        return url


class MemberEntry(_Strict):
    """One identity of this directory: its MSP folder and the roles it was issued with."""

    msp: str
    roles: list[str]
    msp_id: str = DEFAULT_MSP_ID
    revoked: bool | None = None  # set by `consortium member revoke`; the ledger is authoritative


class ConsortiumConfig(_Strict):
    """The model of `consortium.toml`. ``root`` is the directory it was loaded from."""

    name: str
    msp_id: str = DEFAULT_MSP_ID
    ca_cert: str = "ca/ca.pem"
    ca_key: str = "ca/ca-key.pem"
    orderer_msp: str = "orderer/msp"
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    blobs: BlobsConfig = Field(default_factory=BlobsConfig)
    members: dict[str, MemberEntry] = Field(default_factory=dict)
    root: Path = Field(default=Path("."), exclude=True)

    @classmethod
    def load(cls, path_or_dir: str | Path) -> ConsortiumConfig:
        """Read `consortium.toml` (given the file or the directory holding it)."""
        path = Path(path_or_dir)
        if path.is_dir():
            path = path / CONFIG_NAME
        if not path.is_file():
            raise ConfigError(_not_a_consortium(Path(path_or_dir)))
        try:
            data = tomllib.loads(path.read_text())
            config = cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(
                f"{path} is not a valid {CONFIG_NAME}: {validation_text(exc)}"
            ) from exc
        except (tomllib.TOMLDecodeError, ValueError) as exc:
            raise ConfigError(f"{path} is not a valid {CONFIG_NAME}: {exc}") from exc
        config.root = path.parent.resolve()
        return config

    def save(self) -> Path:
        """Write `consortium.toml` in ``root`` (atomically: write then rename)."""
        path = self.root / CONFIG_NAME
        tmp = path.with_suffix(".toml.tmp")
        data = self.model_dump(mode="json", exclude_none=True)
        tmp.write_bytes(tomli_w.dumps(data).encode())
        tmp.replace(path)
        return path

    def resolve(self, relative: str) -> Path:
        """An absolute path for a path written relative to the consortium directory."""
        return (self.root / relative).resolve()

    @property
    def ledger_path(self) -> Path:
        """The embedded ledger's SQLite file."""
        return self.resolve(self.ledger.path)

    @property
    def ca_cert_path(self) -> Path:
        """The consortium root certificate."""
        return self.resolve(self.ca_cert)

    def member_msp(self, member_id: str) -> Path:
        """The MSP folder of a member of this directory."""
        if member_id not in self.members:
            known = ", ".join(sorted(self.members)) or "none"
            raise ConfigError(f"no identity named {member_id!r} here (known: {known})")
        return self.resolve(self.members[member_id].msp)

    def holds_private_key(self, member_id: str) -> bool:
        """Whether this directory holds the member's private key (an auditor's copy holds only
        its own: the others' ``keystore/`` folders are absent or empty)."""
        keystore = self.member_msp(member_id) / "keystore"
        return keystore.is_dir() and any(p.is_file() for p in keystore.iterdir())


def _not_a_consortium(given: Path) -> str:
    """Why ``given`` (a folder, or a consortium.toml file) is no consortium, naming the folder
    looked in (the current one, when no directory was given) and how to name another."""
    where = given.parent if given.suffix == ".toml" else given
    how = (
        "pass the folder `consortium init` made with --dir/-C (or set CONSORTIUM_DIR), or create "
        "one with `consortium init DIR`"
    )
    if not where.is_dir():
        return f"consortium directory {where} does not exist: {how}"
    if where.resolve() == Path.cwd().resolve() and not where.is_absolute():
        return f"the current directory {Path.cwd()} holds no {CONFIG_NAME}: {how}"
    return f"{where} holds no {CONFIG_NAME}: {how}"
