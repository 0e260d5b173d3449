"""The peer and orderer inside the fake gateway: simulation, endorsement, ordering, validation.

Modelled on Fabric 2.5's execute-order-validate flow, on real protobuf messages:

- **execute** (`Simulator`): the contract runs against the committed world state; reads record the
  committed version of each key (``kvrwset.Version{block_num, tx_num}``), range reads record the
  keys and versions they saw, writes are buffered. As in Fabric, a transaction does not see its own
  writes. The read-write set goes into a ``ChaincodeAction`` signed by each endorsing peer.
- **validate** (`WorldState.validate_and_apply`): in block order, each transaction's endorsements
  are checked against the endorsement policy, then every read version is compared with the state as
  left by the earlier transactions of the chain (``MVCC_READ_CONFLICT``) and every range is re-read
  (``PHANTOM_READ_CONFLICT``); only a VALID transaction's writes are applied.

Block hashes here are SHA-256 of the serialized header, not Fabric's ASN.1 form: nothing in the
client depends on them.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.common import common_pb2
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import (
    chaincode_event_pb2,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)

from consortium.ledger.base import Creator
from consortium.ledger.fabric.signing import sign_low_s, verify_low_s

Version = tuple[int, int]
_VALID = transaction_pb2.VALID


@dataclass
class Simulator:
    """A `TxContext` over a snapshot of the world state that records a read-write set."""

    state: WorldState
    tx_id: str
    timestamp_ms: int
    creator: Creator
    reads: dict[str, Version | None] = field(default_factory=dict)
    ranges: list[tuple[str, str, list[tuple[str, Version]]]] = field(default_factory=list)
    writes: dict[str, bytes] = field(default_factory=dict)

    def get_state(self, key: str) -> bytes | None:
        """The committed value (Fabric's GetState does not see this transaction's writes)."""
        entry = self.state.get(key)
        if key not in self.reads:
            self.reads[key] = entry[1] if entry else None
        return entry[0] if entry else None

    def put_state(self, key: str, value: bytes) -> None:
        """Buffer a write; applied only if the transaction commits VALID."""
        self.writes[key] = bytes(value)

    def range(self, start: str, end: str) -> Iterator[tuple[str, bytes]]:
        """Committed keys in ``[start, end)``, recorded for the phantom-read check."""
        seen = self.state.range(start, end)
        self.ranges.append((start, end, [(k, v) for k, (_, v) in seen]))
        for key, (value, _) in seen:
            yield key, value

    def rwset_bytes(self, namespace: str) -> bytes:
        """The ``TxReadWriteSet`` with one namespace, keys sorted as Fabric writes them."""
        kv = kv_rwset_pb2.KVRWSet()
        for key in sorted(self.reads):
            read = kv.reads.add(key=key)
            version = self.reads[key]
            if version is not None:
                read.version.block_num, read.version.tx_num = version
        for start, end, seen in self.ranges:
            info = kv.range_queries_info.add(start_key=start, end_key=end, itr_exhausted=True)
            for key, (block_num, tx_num) in seen:
                info.raw_reads.kv_reads.add(
                    key=key, version=kv_rwset_pb2.Version(block_num=block_num, tx_num=tx_num)
                )
        for key in sorted(self.writes):
            kv.writes.add(key=key, value=self.writes[key])
        rw = rwset_pb2.TxReadWriteSet(data_model=rwset_pb2.TxReadWriteSet.KV)
        rw.ns_rwset.add(namespace=namespace, rwset=kv.SerializeToString())
        return bytes(rw.SerializeToString())


@dataclass
class WorldState:
    """Versioned key-value state of one chaincode namespace, plus the chain of blocks."""

    data: dict[str, tuple[bytes, Version]] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)
    blocks: list[common_pb2.Block] = field(default_factory=list)
    tx_status: dict[str, tuple[int, int]] = field(default_factory=dict)

    def get(self, key: str) -> tuple[bytes, Version] | None:
        """The committed value and version of ``key``."""
        return self.data.get(key)

    def range(self, start: str, end: str) -> list[tuple[str, tuple[bytes, Version]]]:
        """Committed entries with ``start <= key < end`` (an empty ``end`` means no bound)."""
        lo = bisect.bisect_left(self.keys, start)
        hi = bisect.bisect_left(self.keys, end) if end else len(self.keys)
        return [(k, self.data[k]) for k in self.keys[lo:hi]]

    def _put(self, key: str, value: bytes, version: Version) -> None:
        if key not in self.data:
            bisect.insort(self.keys, key)
        self.data[key] = (value, version)

    def _mvcc_code(self, kv: kv_rwset_pb2.KVRWSet) -> int:
        for read in kv.reads:
            entry = self.data.get(read.key)
            current = entry[1] if entry else None
            wanted = (
                (read.version.block_num, read.version.tx_num) if read.HasField("version") else None
            )
            if current != wanted:
                return int(transaction_pb2.MVCC_READ_CONFLICT)
        for info in kv.range_queries_info:
            now = [(k, v[1]) for k, v in self.range(info.start_key, info.end_key)]
            then = [
                (r.key, (r.version.block_num, r.version.tx_num)) for r in info.raw_reads.kv_reads
            ]
            if now != then:
                return int(transaction_pb2.PHANTOM_READ_CONFLICT)
        return int(_VALID)

    def validate_and_apply(
        self, envelope: common_pb2.Envelope, block: int, index: int, policy_ok: bool
    ) -> int:
        """Validate one ordered transaction against the state and apply it if VALID."""
        payload = common_pb2.Payload.FromString(envelope.payload)
        tx_id = common_pb2.ChannelHeader.FromString(payload.header.channel_header).tx_id
        if tx_id in self.tx_status:
            return int(transaction_pb2.DUPLICATE_TXID)
        if not policy_ok:
            return int(transaction_pb2.ENDORSEMENT_POLICY_FAILURE)
        rwset = rwset_pb2.TxReadWriteSet.FromString(_action(payload).results)
        kvs = [kv_rwset_pb2.KVRWSet.FromString(ns.rwset) for ns in rwset.ns_rwset]
        for kv in kvs:
            code = self._mvcc_code(kv)
            if code != _VALID:
                return code
        for kv in kvs:
            for write in kv.writes:
                self._put(write.key, write.value, (block, index))
        return int(_VALID)

    def append_block(
        self, envelopes: list[common_pb2.Envelope], policy_ok: list[bool]
    ) -> common_pb2.Block:
        """Validate ``envelopes`` in order, apply the valid ones, and append the block."""
        number = len(self.blocks)
        codes = [
            self.validate_and_apply(env, number, i, ok)
            for i, (env, ok) in enumerate(zip(envelopes, policy_ok, strict=True))
        ]
        block = make_block(number, self.blocks[-1] if self.blocks else None, envelopes, codes)
        for env, code in zip(envelopes, codes, strict=True):
            payload = common_pb2.Payload.FromString(env.payload)
            tx_id = common_pb2.ChannelHeader.FromString(payload.header.channel_header).tx_id
            self.tx_status.setdefault(tx_id, (number, code))
        self.blocks.append(block)
        return block


def _action(payload: common_pb2.Payload) -> proposal_pb2.ChaincodeAction:
    tx = transaction_pb2.Transaction.FromString(payload.data)
    cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    prp = proposal_response_pb2.ProposalResponsePayload.FromString(
        cap.action.proposal_response_payload
    )
    return proposal_pb2.ChaincodeAction.FromString(prp.extension)


def block_hash(header: common_pb2.BlockHeader) -> bytes:
    """The fake's block hash (SHA-256 of the serialized header)."""
    return hashlib.sha256(header.SerializeToString(deterministic=True)).digest()


def make_block(
    number: int,
    previous: common_pb2.Block | None,
    envelopes: list[common_pb2.Envelope],
    codes: list[int],
) -> common_pb2.Block:
    """A ``common.Block`` with the validation codes in its TRANSACTIONS_FILTER metadata."""
    data = [env.SerializeToString() for env in envelopes]
    header = common_pb2.BlockHeader(
        number=number,
        previous_hash=block_hash(previous.header) if previous else b"",
        data_hash=hashlib.sha256(b"".join(data)).digest(),
    )
    metadata = [b""] * (max(common_pb2.BlockMetadataIndex.values()) + 1)
    metadata[common_pb2.TRANSACTIONS_FILTER] = bytes(codes)
    return common_pb2.Block(
        header=header,
        data=common_pb2.BlockData(data=data),
        metadata=common_pb2.BlockMetadata(metadata=metadata),
    )


def genesis_envelope(channel: str) -> common_pb2.Envelope:
    """A stand-in for the channel's config block transaction (block 0 in Fabric)."""
    ch = common_pb2.ChannelHeader(type=common_pb2.CONFIG, channel_id=channel)
    payload = common_pb2.Payload(header=common_pb2.Header(channel_header=ch.SerializeToString()))
    return common_pb2.Envelope(payload=payload.SerializeToString())


@dataclass(frozen=True)
class EndorsingPeer:
    """One organisation's endorsing peer: its MSP id, certificate and signing key."""

    msp_id: str
    cert_pem: str
    key: ec.EllipticCurvePrivateKey

    @property
    def serialized(self) -> bytes:
        ident = identities_pb2.SerializedIdentity(
            mspid=self.msp_id, id_bytes=self.cert_pem.encode()
        )
        return bytes(ident.SerializeToString())

    def endorse(self, prp_bytes: bytes) -> proposal_response_pb2.Endorsement:
        """Sign ``proposal_response_payload ‖ endorser`` as a Fabric endorser does."""
        signature = sign_low_s(self.key, prp_bytes + self.serialized)
        return proposal_response_pb2.Endorsement(endorser=self.serialized, signature=signature)


def endorsing_orgs(
    action: transaction_pb2.ChaincodeEndorsedAction, peers: dict[str, EndorsingPeer]
) -> set[str]:
    """MSP ids whose known peer produced a verifying endorsement of ``action``."""
    orgs: set[str] = set()
    for e in action.endorsements:
        ident = identities_pb2.SerializedIdentity.FromString(e.endorser)
        peer = peers.get(ident.mspid)
        if peer is None or peer.serialized != bytes(e.endorser):
            continue
        data = action.proposal_response_payload + e.endorser
        if verify_low_s(peer.key.public_key(), data, e.signature):
            orgs.add(ident.mspid)
    return orgs


def block_events(block: common_pb2.Block) -> list[chaincode_event_pb2.ChaincodeEvent]:
    """Chaincode events of the block's *valid* endorser transactions, in block order.

    As the Fabric gateway (``event/chaincodeiterator.go``): an invalidated transaction's event is
    in the block but is never delivered.
    """
    filters = bytes(block.metadata.metadata[common_pb2.TRANSACTIONS_FILTER])
    events = []
    for index, raw in enumerate(block.data.data):
        payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(raw).payload)
        header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
        if header.type != common_pb2.ENDORSER_TRANSACTION or filters[index] != _VALID:
            continue
        action = _action(payload)
        if action.events:
            events.append(chaincode_event_pb2.ChaincodeEvent.FromString(action.events))
    return events
