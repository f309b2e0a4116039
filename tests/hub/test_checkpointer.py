"""The hub's periodic audit checkpoint: a real HubServer signs its log when it grows, with the
key it was given, and a hub without a key writes none and says so."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.audit_checkpoint import verify_checkpoint
from hub.errors import HubConfigError
from hub.server import HubConfig, HubServer
from hub.store import AuditEntry


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_a_hub_signs_its_log_as_it_grows(hub_config: Callable[..., HubConfig]) -> None:
    key = Ed25519PrivateKey.generate()
    async with HubServer(hub_config(audit_key=key, audit_checkpoint_interval_s=0.1)) as hub:
        hub.store.append_audit([AuditEntry("note", f"event {n}") for n in range(3)])
        await _until(lambda: (latest := hub.store.audit_tree.latest()) is not None and latest.size == 3)
        hub.store.append_audit([AuditEntry("note", "event 3")])
        hub.checkpointer.wake()
        await _until(lambda: (latest := hub.store.audit_tree.latest()) is not None and latest.size == 4)
        sizes = [checkpoint.size for checkpoint in hub.store.audit_tree.checkpoints()]
        assert sizes == [3, 4]  # none while the log stood still
        latest = hub.store.audit_tree.latest()
        assert latest is not None
        verify_checkpoint(latest.signed, key.public_key(), "hub-50")
        assert hub.metrics.audit_checkpoint_size._value.get() == 4
        assert hub.store.audit.verify(("hub-50", key.public_key())).ok


async def test_a_hub_without_a_key_writes_no_checkpoints_and_says_so(
    hub_config: Callable[..., HubConfig], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="hub.server"):
        async with HubServer(hub_config(audit_checkpoint_interval_s=0.1)) as hub:
            hub.store.append_audit([AuditEntry("note", "event")])
            await asyncio.sleep(0.3)
            assert hub.store.audit_tree.checkpoints() == []
    assert "no audit signing key configured" in caplog.text


def test_the_interval_is_checked(hub_config: Callable[..., HubConfig]) -> None:
    with pytest.raises(HubConfigError, match="audit_checkpoint_interval_s 0"):
        HubServer(hub_config(audit_checkpoint_interval_s=0.0))


async def test_a_wake_at_the_moment_of_stop_does_not_keep_the_checkpointer_running(
    hub_config: Callable[..., HubConfig],
) -> None:
    """Python 3.11's asyncio.wait_for returns the inner result when it finished as the cancel came
    (the cancel is swallowed): a wake just before close() kept the loop going for another interval.
    A hub's stop hung so in CI: its witnesser was woken by the checkpointer as it was closed."""
    key = Ed25519PrivateKey.generate()
    async with HubServer(hub_config(audit_key=key, audit_checkpoint_interval_s=3600)) as hub:
        hub.store.append_audit([AuditEntry("note", "event")])
        hub.checkpointer.wake()
        await _until(lambda: hub.store.audit_tree.latest() is not None)
        await asyncio.sleep(0.1)  # back in its wait for the next interval
        checkpointer = hub.checkpointer
        running = checkpointer._task
        assert running is not None and not running.done()
        checkpointer.wake()
        closing = asyncio.ensure_future(checkpointer.close())
        await asyncio.wait({closing}, timeout=5.0)
        assert running.done(), "the checkpointer's loop went on after close()"
        await closing
