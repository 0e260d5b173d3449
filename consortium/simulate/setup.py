"""Create the consortium directory a simulation runs in: identities, ledger, keys, task, cohorts.

The same steps as `consortium init` followed by publishing a task, done through the library:
one member per site (roles hospital + verifier, or those `SimConfig.roles` gives it), one
aggregator (public context only), one admin. Each site's cohort table
(``heart_cohort_table(site)``, the table an ingest of the demo FHIR produces) is written to
``members/SITE/cohort/cohort.parquet`` (a member that only verifies uses only its held-out rows),
and each node's local settings (speed, attack, pacing) to ``members/NAME/node.toml``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consortium.node.settings import NodeSettings, save_settings
from consortium.simulate.config import SimConfig

if TYPE_CHECKING:
    from consortium.simulate.fabric import FakePeerProcess

__all__ = ["ADMIN", "AGGREGATOR", "create_consortium", "task_params"]

AGGREGATOR = "aggregator"
ADMIN = "admin"
TASK_ID = "heart"


def task_params(cfg: SimConfig) -> Any:
    """The task the simulation publishes, as `consortium task publish` would take it (a
    synchronous run has no staleness and a buffer of every hospital)."""
    from consortium.federation.publish import TaskParams

    return TaskParams(
        task_id=TASK_ID, title="Coronary disease (UCI heart, four hospitals)", cohort="heart",
        hidden=cfg.hidden, epsilon_budget=Decimal(cfg.epsilon_budget), delta=Decimal(cfg.delta),
        accountant=cfg.accountant,
        committee_size=cfg.committee_size, quorum=cfg.quorum,
        staleness_exponent_bp=cfg.staleness_exponent_bp,
        max_staleness=0 if cfg.sync else cfg.max_staleness,
        buffer_size=len(cfg.hospitals) if cfg.sync else cfg.buffer_size,
        server_lr_bp=cfg.server_lr_bp, sml=cfg.sml, target_interval_ms=cfg.target_interval_ms,
        retarget_every=cfg.retarget_every, min_interval_bp=cfg.min_interval_bp,
        gain_decay_intervals=cfg.gain_decay_intervals, verdict_timeout_ms=cfg.verdict_timeout_ms,
        initial_required_gain_bp=cfg.initial_required_gain_bp,
        min_required_gain_bp=cfg.min_required_gain_bp,
        max_required_gain_bp=cfg.max_required_gain_bp, seed=cfg.seed,
    )  # fmt: skip


def planned_updates(cfg: SimConfig, site: str | None) -> int:
    """Updates a hospital plans for the task (the ε budget is paced over them).

    Synchronously every hospital sends one update per round. Asynchronously a hospital k times
    slower than the others plans ⌈U/k⌉ updates, each with less noise, so that every hospital's
    budget lasts about as long as the task (docs/decisions/0007-bafl.md, "Pacing").
    """
    speed = cfg.speeds.get(site or "", 1.0)
    if cfg.sync or not cfg.pace_by_speed or speed <= 1.0:
        return cfg.planned_updates
    return max(1, -(-cfg.planned_updates // max(1, round(speed))))


def _node_settings(cfg: SimConfig, site: str | None) -> NodeSettings:
    return NodeSettings(
        task_id=TASK_ID, planned_updates=planned_updates(cfg, site), epochs=cfg.epochs, lr=cfg.lr,
        batch_size=cfg.batch_size, dp=cfg.dp, speed=cfg.speeds.get(site or "", 1.0),
        update_seconds=cfg.update_seconds, attack=cfg.attacks.get(site or "", "none"),
        flush_seconds=cfg.flush_seconds, plaintext=cfg.plaintext,
        sealer_timeout_seconds=cfg.sealer_timeout_seconds, verifier=cfg.verifier,
        sync_members=list(cfg.hospitals) if cfg.sync else [],
        sync_round_seconds=cfg.sync_round_seconds,
        poll_seconds=0.1, holdout_fold=cfg.holdout_fold,
        seed=None if cfg.train_seed is None or site is None
        else cfg.train_seed + cfg.sites.index(site),
    )  # fmt: skip


def _keys(config: Any, blobs: Any, admin: Any) -> Any:
    from consortium.crypto.setup import provision_keys
    from consortium.identity import load_identity

    members = []
    for member_id, entry in sorted(config.members.items()):
        ident = load_identity(config.member_msp(member_id), msp_id=entry.msp_id)
        members.append((member_id, ident.cert_pem, entry.roles))
    result = provision_keys(config.root, members, blobs)
    for share in result.shares:
        admin.submit_ok("ShareKey", share.model_dump(mode="json"))
    return result.bundle


def _bootstrap(cfg: SimConfig, config: Any, peer: FakePeerProcess | None) -> Any:
    """Write the genesis: the embedded ledger's file, or ``Bootstrap`` submitted to the fake
    Fabric peer (started here, which points ``consortium.toml`` at itself); the config to use."""
    from consortium.config import ConsortiumConfig
    from consortium.ledger.factory import bootstrap_ledger, genesis_args, open_ledger

    if cfg.ledger == "embedded":
        bootstrap_ledger(config, ADMIN)
        return config
    if peer is None:
        raise ValueError(f"ledger {cfg.ledger!r} needs a FakePeerProcess to start")
    peer.start(config.root, config.root / "logs")
    config = ConsortiumConfig.load(config.root)
    admin = open_ledger(config, ADMIN)
    try:
        admin.submit_ok("Bootstrap", genesis_args(config))
    finally:
        admin.close()
    return config


def create_consortium(cfg: SimConfig, root: Path, peer: FakePeerProcess | None = None) -> Path:
    """Make the consortium directory of ``cfg`` under ``root``; returns it. With
    ``cfg.ledger == "fabric-fake"``, ``peer`` is started and serves the ledger (the caller stops
    it)."""
    from consortium.blobs import open_blob_store
    from consortium.datasets.heart import heart_cohort_table
    from consortium.federation.publish import input_width, task_record
    from consortium.identity.setup import create_identities
    from consortium.learning.models import ModelSpec, build_model, state_arrays
    from consortium.learning.serialize import to_safetensors
    from consortium.ledger.factory import open_ledger
    from consortium.node.open import member_dir

    roles: dict[str, list[str]] = {site: list(cfg.site_roles(site)) for site in cfg.sites}
    roles[AGGREGATOR] = ["aggregator"]
    roles[ADMIN] = ["admin"]
    config = _bootstrap(cfg, create_identities(root, "sim", roles), peer)
    blobs = open_blob_store(config.blobs.url, config.root)
    admin = open_ledger(config, ADMIN)
    bundle = None if cfg.plaintext else _keys(config, blobs, admin)
    tables = {site: heart_cohort_table(site) for site in cfg.sites}
    params = task_params(cfg)
    spec = ModelSpec(in_features=input_width(params.cohort), hidden=params.hidden)
    data = to_safetensors(state_arrays(build_model(spec, seed=cfg.seed)))
    if bundle is not None:
        from consortium.crypto.modelblob import encrypt_model_blob

        blob = encrypt_model_blob(data, bundle.model_key)
    else:
        blob = data
    from consortium.canonical import sha256_hex

    task = task_record(params, sha256_hex(data), blobs.put(blob))
    admin.submit_ok("PublishTask", {"task": task})
    admin.close()
    for site in cfg.sites:
        mdir = member_dir(config, site)
        (mdir / "cohort").mkdir(parents=True, exist_ok=True)
        tables[site].to_parquet(mdir / "cohort" / "cohort.parquet")
        save_settings(mdir, _node_settings(cfg, site))
    for other in (AGGREGATOR, ADMIN):
        save_settings(member_dir(config, other), _node_settings(cfg, None))
    return Path(config.root)
