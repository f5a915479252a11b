"""Stage records: what a stage computed, from what, and how far it got.

One JSON file per stage in ``videos/<id>/records/<stage>.json``, rewritten atomically after
every committed chunk. A record is ``complete`` only after its last chunk is durable.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["partial", "complete"]


def config_hash(config: Any) -> str:
    """A stable hash of a config dataclass (or dict): sorted-key JSON, BLAKE2b-64."""
    data = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config
    raw = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


@dataclass
class StageRecord:
    """The durable state of one stage of one video."""

    stage: str
    schema: int
    code: str
    """ptx version and the stage's own version, e.g. ``0.1.0/1``."""
    config: dict[str, Any]
    config_hash: str
    inputs: dict[str, str]
    """Input name -> the token of what it was computed from (upstream record tokens, or
    the source file's content hash)."""
    token: str
    """Identifies this computation's outputs; new whenever the stage starts from scratch,
    so everything downstream sees that its input changed."""
    status: Status = "partial"
    n_chunks: int = 0
    chunks_done: list[int] = field(default_factory=list)
    frames: int = 0
    wall_time: float = 0.0
    started: str = ""
    finished: str = ""
    resumed_chunks: int = 0
    """How many chunks were already committed when the last run of this stage began."""
    meta: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    checksums: dict[str, list[str | None]] = field(default_factory=dict)
    """Output array -> the CRC-32C (hex) of each chunk file committed, in chunk order; None
    for a chunk never written (it reads as zeros). Empty in records of older ptx versions,
    whose arrays carry no checksums (ptx.cache.integrity)."""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StageRecord:
        """The record in ``data``; ValueError when it is not one (a damaged file)."""
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            rec = cls(**{k: v for k, v in data.items() if k in names})
        except TypeError as exc:
            raise ValueError(f"not a stage record: {exc}") from None
        if not (
            isinstance(rec.chunks_done, list)
            and isinstance(rec.inputs, dict)
            and isinstance(rec.checksums, dict)
            and isinstance(rec.meta, dict)
            and isinstance(rec.token, str)
        ):
            raise ValueError("not a stage record: a field has the wrong type")
        return rec

    def matches(self, code: str, cfg_hash: str, inputs: dict[str, str]) -> bool:
        return self.code == code and self.config_hash == cfg_hash and self.inputs == inputs

    def stale_reasons(self, code: str, cfg_hash: str, inputs: dict[str, str]) -> list[str]:
        reasons = []
        if self.config_hash != cfg_hash:
            reasons.append("config changed")
        if self.inputs != inputs:
            reasons.append("input changed")
        if self.code != code:
            reasons.append("code changed")
        return reasons
