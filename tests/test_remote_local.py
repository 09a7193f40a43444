"""The directory remote: objects are copied (hard-linked only when asked), checked on the way
out, and every download is re-hashed before it is published."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitdatax.errors import CorruptObject
from gitdatax.remotes.local import DirectoryRemote
from gitdatax.store.objectfile import CorruptUpload
from gitdatax.store.objectstore import ObjectStore
from helpers import leftovers, make_writable


def test_upload_and_download_copy_the_object_file_by_default(tmp_path: Path) -> None:
    """A link would make one inode the local store's, the remote's and every clone's: one bad
    block would damage all of them at once (issue 11 item 7). Copies (or reflinks) by default."""
    local = ObjectStore(tmp_path / "local")
    stub = local.put_bytes(os.urandom(100_000))
    remote = DirectoryRemote(str(tmp_path / "nas"), {"create": True})
    remote.upload(stub, local)
    sent = remote.layout.object_path(stub.oid)
    assert sent.stat().st_ino != local.object_path(stub.oid).stat().st_ino
    assert sent.read_bytes() == local.object_path(stub.oid).read_bytes()
    assert sent.stat().st_mode & 0o777 == 0o444
    assert remote.has_many([stub]) == {stub.oid}
    fresh = ObjectStore(tmp_path / "fresh")
    remote.download(stub, fresh)
    assert fresh.object_path(stub.oid).stat().st_ino != sent.stat().st_ino
    assert b"".join(fresh.read_verified(stub)) == b"".join(local.read_verified(stub))
    assert leftovers(fresh.tmp_dir) == [] and leftovers(tmp_path / "nas" / "tmp") == []


def test_upload_and_download_link_the_read_only_object_file_when_asked(tmp_path: Path) -> None:
    local = ObjectStore(tmp_path / "local")
    stub = local.put_bytes(os.urandom(100_000))
    remote = DirectoryRemote(str(tmp_path / "nas"), {"create": True, "link": "true"})
    remote.upload(stub, local)
    sent = remote.layout.object_path(stub.oid)
    assert sent.stat().st_ino == local.object_path(stub.oid).stat().st_ino
    fresh = ObjectStore(tmp_path / "fresh")
    remote.download(stub, fresh)
    assert fresh.object_path(stub.oid).stat().st_ino == sent.stat().st_ino
    assert not (tmp_path / "nas" / "tmp").exists()  # linked straight into place, nothing staged


@pytest.mark.parametrize("link", ["", "true"])
def test_a_corrupt_local_object_is_not_sent(tmp_path: Path, link: str) -> None:
    """issue 11 item 6: a flipped byte used to be copied or linked to the team store."""
    local = ObjectStore(tmp_path / "local")
    stub = local.put_bytes(b"a sentence that compresses well. " * 3000)
    path = local.object_path(stub.oid)
    make_writable(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    remote = DirectoryRemote(str(tmp_path / "nas"), {"create": True, "link": link})
    with pytest.raises(CorruptUpload, match=f"{stub.oid}.*git datax fsck"):
        remote.upload(stub, local)
    assert remote.has_many([stub]) == set()
    assert not remote.layout.object_path(stub.oid).exists()


def test_a_corrupt_remote_object_is_refused_even_when_linked(tmp_path: Path) -> None:
    local = ObjectStore(tmp_path / "local")
    good = local.put_bytes(b"good data " * 5000)
    other = local.put_bytes(b"other data " * 5000)
    remote = DirectoryRemote(str(tmp_path / "nas"), {"create": True})
    remote.upload(other, local)
    # The remote holds, under good's oid, a valid object of other content: a lie only a
    # re-hash finds.
    target = remote.layout.object_path(good.oid)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.link(remote.layout.object_path(other.oid), target)
    fresh = ObjectStore(tmp_path / "fresh")
    with pytest.raises(CorruptObject, match=good.oid):
        remote.download(good, fresh)
    assert not fresh.has(good.oid)
    assert not fresh.tmp_dir.exists() or list(fresh.tmp_dir.iterdir()) == []


def test_a_store_on_this_file_system_caps_the_transfer_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Linking objects is CPU work: more threads than cores only contend for the GIL."""
    from gitdatax.sync.transfer import jobs_for

    monkeypatch.chdir(tmp_path)
    remote = DirectoryRemote(str(tmp_path / "nas" / "not-yet"), {"create": True})
    assert remote.max_parallel == (os.cpu_count() or 2)
    assert jobs_for(remote, 8) == min(8, os.cpu_count() or 2)
    assert jobs_for(remote, 1) == 1
    other = DirectoryRemote("/dev/shm" if os.stat("/dev/shm").st_dev != os.stat(tmp_path).st_dev else str(tmp_path))
    if os.stat("/dev/shm").st_dev != os.stat(tmp_path).st_dev:
        assert other.max_parallel is None and jobs_for(other, 8) == 8


@pytest.mark.parametrize("value", ["ture", "2", "linked"])
def test_a_link_option_that_is_not_a_boolean_is_refused_in_one_line(tmp_path: Path, value: str) -> None:
    """`link` decides whether a push copies or links: a typo must not quietly mean copies."""
    from gitdatax.remotes.base import RemoteError

    with pytest.raises(RemoteError, match=f"bad link '{value}' \\(expected true or false\\)"):
        DirectoryRemote(str(tmp_path / "nas"), {"create": True, "link": value})
