"""`git datax fsck`: corruption is found and quarantined; missing data is named; exit codes."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from helpers import datax, git, object_path, random_bytes, store_dir, write


def _commit_versions(repo: Path, versions: int = 2) -> list[dict[str, str]]:
    """Commit `versions` versions of two tracked files; return each version's {path: oid}."""
    assert datax("track", "*.bin").returncode == 0
    git("add", ".gitattributes")
    git("commit", "-qm", "track")
    oids = []
    for v in range(versions):
        write(repo / "model.bin", random_bytes(200_000 + v, seed=v))
        write(repo / "data/set.bin", random_bytes(50_000 + v, seed=100 + v))
        git("add", "-A")
        git("commit", "-qm", f"v{v}")
        oids.append({p: _stub_oid(p) for p in ("model.bin", "data/set.bin")})
    return oids


def _stub_oid(path: str) -> str:
    text = git("cat-file", "-p", f"HEAD:{path}").stdout
    return text.split("oid sha256:")[1].split()[0]


def test_clean_store_exits_0(repo: Path) -> None:
    _commit_versions(repo)
    proc = datax("fsck")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    last = proc.stdout.splitlines()[-1]
    assert last.startswith("fsck: ok: 4 object(s) verified")
    assert "0 corrupt" in last and "2 referenced, 0 missing" in last
    proc = datax("fsck", "--all")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 referenced, 0 missing" in proc.stdout.splitlines()[-1]


def test_flipped_byte_is_found_and_quarantined(repo: Path) -> None:
    oids = _commit_versions(repo)
    victim = oids[-1]["model.bin"]
    path = object_path(repo, victim)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    proc = datax("fsck")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert any(line.startswith(f"corrupt: object {victim} ") for line in lines), proc.stdout
    assert f"missing: model.bin (index) object {victim}: quarantined as corrupt" in lines
    assert "fsck: PROBLEMS FOUND: 4 object(s) verified" in lines[-1]
    assert "1 corrupt (quarantined in datax/bad/)" in lines[-1]
    # Moved out of the store, byte for byte, into bad/.
    assert not path.exists()
    assert (store_dir(repo) / "bad" / victim).read_bytes() == bytes(data)
    # The other objects are untouched and still verify.
    for version in oids:
        for oid in version.values():
            if oid != victim:
                assert object_path(repo, oid).is_file()
    # Still missing on the next run, and not counted corrupt twice.
    proc = datax("fsck")
    assert proc.returncode == 1
    assert "3 object(s) verified" in proc.stdout.splitlines()[-1]
    assert "0 corrupt" in proc.stdout.splitlines()[-1]


def test_missing_object_in_history_only_with_all(repo: Path) -> None:
    oids = _commit_versions(repo)
    old = oids[0]["data/set.bin"]
    os.unlink(object_path(repo, old))
    assert datax("fsck").returncode == 0  # HEAD does not need it
    proc = datax("fsck", "--all")
    assert proc.returncode == 1
    assert f"missing: data/set.bin (history) object {old}: not in the local store" in proc.stdout.splitlines()


def test_stub_left_in_work_tree_and_index(repo: Path) -> None:
    oids = _commit_versions(repo)
    os.unlink(object_path(repo, oids[-1]["model.bin"]))
    os.unlink(repo / "model.bin")
    git("checkout", "--", "model.bin", env={"GIT_DATAX_SKIP_SMUDGE": "1"})
    proc = datax("fsck")
    assert proc.returncode == 1
    assert f"missing: model.bin (work tree) object {oids[-1]['model.bin']}: not in the local store" in proc.stdout


def test_outside_a_repository(tmp_path: Path) -> None:
    proc = datax("fsck", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "git-datax: error: not in a git repository (run this inside a work tree)"


def test_remote_lacking_objects_is_reported(repo: Path, tmp_path: Path) -> None:
    oids = _commit_versions(repo)
    remote = tmp_path / "remote-store"
    shutil.copytree(store_dir(repo) / "objects", remote / "objects")  # same layout as a directory remote
    assert datax("remote", "add", "--local", "nas", str(remote)).returncode == 0
    proc = datax("fsck", "--all", "--remote", "nas")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1].endswith(f"4 referenced, 0 missing, 0 not on remote {remote}")

    # Missing on the remote: reported; missing locally but on the remote: not a problem.
    lacking = oids[-1]["model.bin"]
    os.unlink(remote / "objects" / lacking[:2] / lacking[2:4] / lacking)
    os.unlink(object_path(repo, oids[0]["data/set.bin"]))
    proc = datax("fsck", "--all", "--remote", "nas")
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[:-1] == [
        f"not on remote {remote}: model.bin (index) object {lacking}, present locally: `git datax push` sends it"]
    assert proc.stdout.splitlines()[-1].endswith(f"4 referenced, 0 missing, 1 not on remote {remote}")
    # Without the remote, the local gap is a problem.
    assert datax("fsck", "--all").returncode == 1
    # An unknown remote is one line, exit 1.
    proc = datax("fsck", "--remote", "nope")
    assert proc.returncode == 1 and proc.stderr.startswith("git-datax: error: no remote named 'nope'")


def test_remote_verify_downloads_and_rehashes_the_remote_copies(repo: Path, tmp_path: Path) -> None:
    """issue 11 item 6: `--remote` checked presence only; a damaged remote copy passed."""
    oids = _commit_versions(repo, versions=1)[0]
    remote = tmp_path / "remote-store"
    shutil.copytree(store_dir(repo) / "objects", remote / "objects")
    assert datax("remote", "add", "--local", "nas", str(remote)).returncode == 0
    proc = datax("fsck", "--remote", "nas", "--verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bad = remote / "objects" / oids["model.bin"][:2] / oids["model.bin"][2:4] / oids["model.bin"]
    os.chmod(bad, 0o644)
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0x40
    bad.write_bytes(bytes(data))
    assert datax("fsck", "--remote", "nas").returncode == 0  # presence alone cannot tell
    proc = datax("fsck", "--remote", "nas", "--verify")
    assert proc.returncode == 1
    lines = [line for line in proc.stdout.splitlines() if line.startswith("corrupt on remote")]
    assert len(lines) == 1 and ": model.bin (" in lines[0] and oids["model.bin"] in lines[0]
    assert proc.stdout.splitlines()[-1].endswith("1 corrupt there")
    assert datax("fsck").returncode == 0  # the local store was not touched
    assert not any(p.name.endswith("fsck-remote") for p in (store_dir(repo) / "tmp").iterdir())
    proc = datax("fsck", "--verify")
    assert proc.returncode == 1 and proc.stderr.strip().endswith("(`git datax fsck --remote --verify`)")
