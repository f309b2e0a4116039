"""The ingest service's cached station keys (``hub.key_directory``): a reload after the time to live
runs behind the readers, a change made through this process applies at once, and keys that grew
too old are reloaded before anyone reads them."""

from __future__ import annotations

import asyncio

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.key_directory import MAX_STALE_TTLS, KeyDirectory
from hub.store import HubStore
from protos.envelope import raw_public_key

TTL_S = 0.2


def _store_with_key(url: str) -> tuple[HubStore, str]:
    store = HubStore(url)
    store.migrate()
    store.register_station("50-0001")
    key_id = store.add_station_key("50-0001", raw_public_key(Ed25519PrivateKey.generate().public_key()))
    return store, key_id


async def test_another_replicas_revocation_applies_after_the_ttl_without_holding_up_readers(
    database_url: str,
) -> None:
    store, key_id = _store_with_key(database_url)
    replica = HubStore(database_url)  # another hub process on the same database
    try:
        directory = KeyDirectory(store, TTL_S)
        assert (await directory.keys())[key_id].revoked_at is None
        replica.revoke_key(key_id)
        await asyncio.sleep(TTL_S)
        # Past the time to live: the reader gets the keys it had, the reload runs behind it.
        assert (await directory.keys())[key_id].revoked_at is None
        await directory.refreshed()
        assert (await directory.keys())[key_id].revoked_at is not None
    finally:
        replica.dispose()
        store.dispose()


async def test_a_revocation_through_this_process_applies_to_the_next_read(database_url: str) -> None:
    store, key_id = _store_with_key(database_url)
    try:
        directory = KeyDirectory(store, ttl_s=3600)
        assert (await directory.keys())[key_id].revoked_at is None
        store.revoke_key(key_id)
        assert (await directory.keys())[key_id].revoked_at is not None
    finally:
        store.dispose()


async def test_keys_too_old_are_reloaded_before_they_are_read(database_url: str) -> None:
    store, key_id = _store_with_key(database_url)
    replica = HubStore(database_url)
    try:
        directory = KeyDirectory(store, TTL_S)
        await directory.keys()
        replica.revoke_key(key_id)
        # No read for a while, so no background reload: the next reader waits for one instead.
        await asyncio.sleep(MAX_STALE_TTLS * TTL_S)
        assert (await directory.keys())[key_id].revoked_at is not None
    finally:
        replica.dispose()
        store.dispose()
