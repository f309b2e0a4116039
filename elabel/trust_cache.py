"""The roadside verifier's offline file: the hub label keys it trusts and each hub's signed
revocation list, as ``tongjian label sync`` last fetched them.

JSON, so an officer's device can be inspected by eye::

    {"format": 1, "synced_at": "2026-11-30T04:00:00+00:00",
     "hub_keys": [{"province": "50", "public_key": "<64 hex digits>"}],
     "revocation_lists": {"50": "<base64 of the signed list>"}}

Revocation lists stay signed in the file and are verified every time the file is read, so editing
the file cannot un-revoke a label; a key id is always recomputed from the public key.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from elabel.errors import RevocationListInvalid, TrustCacheError
from elabel.keys import key_id
from elabel.revocation import RevocationList, read_revocation_list

FORMAT = 1


@dataclass(frozen=True, slots=True)
class HubKey:
    province: str
    public_key: bytes  # raw Ed25519

    @property
    def kid(self) -> bytes:
        return key_id(self.public_key)


@dataclass(frozen=True, slots=True)
class TrustCache:
    hub_keys: tuple[HubKey, ...]
    signed_revocation_lists: dict[str, bytes] = field(default_factory=dict)  # province -> signed bytes
    synced_at: datetime | None = None

    def key_by_kid(self, kid: bytes) -> HubKey | None:
        return next((k for k in self.hub_keys if k.kid == kid), None)

    def revocation_list(self, province: str) -> RevocationList | None:
        """The province's list, verified against each of its keys in turn (a hub may have two
        while it rolls its key); RevocationListInvalid when no key signed it."""
        data = self.signed_revocation_lists.get(province)
        if data is None:
            return None
        errors = []
        for key in (k for k in self.hub_keys if k.province == province):
            try:
                return read_revocation_list(data, province, key.public_key)
            except RevocationListInvalid as exc:
                errors.append(str(exc))
        raise RevocationListInvalid(
            "; ".join(errors) or f"revocation list of hub {province}: no key for the hub"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "synced_at": self.synced_at.isoformat() if self.synced_at else None,
            "hub_keys": [{"province": k.province, "public_key": k.public_key.hex()} for k in self.hub_keys],
            "revocation_lists": {
                p: base64.b64encode(d).decode("ascii")
                for p, d in sorted(self.signed_revocation_lists.items())
            },
        }


def save_trust_cache(cache: TrustCache, path: Path) -> None:
    """Written to a temporary file and renamed, so a reader never sees half a cache."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(cache.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _fail(path: Path, what: str) -> TrustCacheError:
    return TrustCacheError(f"{path}: {what}")


def load_trust_cache(path: Path) -> TrustCache:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise _fail(path, "no trust cache (run `tongjian label sync --hub HOST:PORT` first)") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(path, f"not a readable JSON file ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _fail(path, f"not a trust cache of format {FORMAT}")
    keys = document.get("hub_keys")
    if not isinstance(keys, list):
        raise _fail(path, "hub_keys is not a list")
    hub_keys = []
    for i, entry in enumerate(keys):
        try:
            province, public_hex = entry["province"], entry["public_key"]
            public_key = bytes.fromhex(public_hex)
        except (TypeError, KeyError, ValueError) as exc:
            raise _fail(path, f"hub_keys[{i}] is not {{province, public_key (hex)}}") from exc
        if not isinstance(province, str) or len(public_key) != 32:
            raise _fail(path, f"hub_keys[{i}]: province must be text and public_key 32 bytes")
        hub_keys.append(HubKey(province, public_key))
    lists = document.get("revocation_lists", {})
    if not isinstance(lists, dict):
        raise _fail(path, "revocation_lists is not an object")
    signed: dict[str, bytes] = {}
    for province, encoded in lists.items():
        try:
            signed[province] = base64.b64decode(encoded, validate=True)
        except (TypeError, ValueError) as exc:  # binascii.Error is a ValueError, as is non-ASCII text
            raise _fail(path, f"revocation_lists[{province!r}] is not base64") from exc
    synced = document.get("synced_at")
    try:
        synced_at = datetime.fromisoformat(synced) if isinstance(synced, str) else None
    except ValueError as exc:
        raise _fail(path, f"synced_at {synced!r} is not an ISO time") from exc
    return TrustCache(tuple(hub_keys), signed, synced_at)
