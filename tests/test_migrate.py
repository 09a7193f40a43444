"""`git datax migrate import` and `migrate info`: history with raw big files becomes stubs."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

from helpers import datax, git, git_bytes, is_stub, random_bytes, sha256, store_dir

MIB = 1 << 20


def fast_import(repo: Path, blobs: dict[str, bytes], commits: list[dict[str, str]]) -> None:
    """Write a raw history straight into `repo` with git fast-import: each commit is
    {path: blob name} (the full tree), blobs written once; no filter, no .gitattributes."""
    marks = {name: i + 1 for i, name in enumerate(blobs)}
    proc = subprocess.Popen(["git", "-c", "core.compression=0", "-c", "pack.compression=0", "fast-import", "--quiet"],
                            cwd=repo, stdin=subprocess.PIPE)
    assert proc.stdin
    for name, data in blobs.items():
        proc.stdin.write(b"blob\nmark :%d\ndata %d\n" % (marks[name], len(data)) + data + b"\n")
    for i, tree in enumerate(commits):
        message = f"commit {i}\n".encode()
        proc.stdin.write(b"commit refs/heads/main\nmark :%d\n" % (100000 + i))
        proc.stdin.write(b"committer Test <t@example.invalid> %d +0000\n" % (1_700_000_000 + 60 * i))
        proc.stdin.write(b"data %d\n%s" % (len(message), message))
        if i:
            proc.stdin.write(b"from :%d\n" % (100000 + i - 1))
        proc.stdin.write(b"deleteall\n")
        for path, name in sorted(tree.items()):
            proc.stdin.write(b"M 100644 :%d %s\n" % (marks[name], path.encode()))
        proc.stdin.write(b"\n")
    proc.stdin.close()
    assert proc.wait() == 0
    git("reset", "-q", "--hard", "main", cwd=repo)


def blob_digests(repo: Path, rev: str, cache: dict[str, str]) -> dict[str, str]:
    """{path: SHA-256 of the file's bytes} for every file of `rev`, from git's objects."""
    out = {}
    for line in git("ls-tree", "-r", rev, cwd=repo).stdout.splitlines():
        meta, path = line.split("\t", 1)
        blob = meta.split()[2]
        if blob not in cache:
            cache[blob] = hashlib.sha256(git_bytes("cat-file", "blob", blob, cwd=repo)).hexdigest()
        out[path] = cache[blob]
    return out


def git_objects_size(repo: Path) -> int:
    return sum(f.stat().st_size for f in (repo / ".git" / "objects").rglob("*") if f.is_file())


def refs_state(repo: Path) -> tuple[str, str, str, str]:
    return (git("for-each-ref", cwd=repo).stdout, git("symbolic-ref", "HEAD", cwd=repo).stdout,
            git("ls-files", "-s", cwd=repo).stdout, git("status", "--porcelain", cwd=repo).stdout)


def test_import_50_commits_of_20mib_files(make_repo) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo("raw")
    # Three distinct 20 MiB models, changed every 5 commits; a constant 20 MiB file under a
    # second name; a small binary and a text file changed in every commit.
    big = {f"model{k}": random_bytes(20 * MIB, seed=k) for k in range(3)}
    small = {f"feat{i}": random_bytes(3000 + i, seed=1000 + i) for i in range(50)}
    text = {f"notes{i}": f"run {i}\n".encode() for i in range(50)}
    commits = [{"models/model.bin": f"model{(i // 5) % 3}", "weights.bin": "model0",
                "data/features.bin": f"feat{i}", "notes.txt": f"notes{i}"} for i in range(50)]
    fast_import(repo, {**big, **small, **text}, commits)
    old_commits = git("rev-list", "--reverse", "main", cwd=repo).stdout.split()
    assert len(old_commits) == 50
    digests: dict[str, str] = {}
    before = [blob_digests(repo, c, digests) for c in old_commits]
    size_before = git_objects_size(repo)
    assert size_before > 60 * MIB

    info = datax("migrate", "info", cwd=repo)
    assert info.returncode == 0, info.stderr
    rows = info.stdout.splitlines()
    assert rows[1].split()[:3] == ["*.bin", "60.1", "MiB"]  # 3 models + 50 small, each once
    assert rows[2].split()[0] == "*.txt"

    proc = datax("migrate", "import", "--include", "*.bin", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "53 distinct file version(s)" in proc.stderr
    backup = git("for-each-ref", "--format=%(refname)", "refs/datax-backup/", cwd=repo).stdout.split()
    assert len(backup) == 1 and backup[0].endswith("/refs/heads/main")
    assert git("rev-parse", backup[0], cwd=repo).stdout.strip() == old_commits[-1]

    new_commits = git("rev-list", "--reverse", "main", cwd=repo).stdout.split()
    assert len(new_commits) == 50 and not set(new_commits) & set(old_commits)
    # The new history holds only stubs for *.bin, and .gitattributes in every commit.
    listing = git("rev-list", "--objects", "main", cwd=repo).stdout.splitlines()
    sizes = git("cat-file", "--batch-check=%(objecttype) %(objectsize)", cwd=repo,
                input="".join(line.split()[0] + "\n" for line in listing).encode()).stdout.split("\n")
    assert max(int(s.split()[1]) for s in sizes if s.startswith("blob")) < 1024
    for commit in (new_commits[0], new_commits[17], new_commits[-1]):
        assert git("show", f"{commit}:.gitattributes", cwd=repo).stdout == \
            "*.bin filter=datax diff=datax merge=datax -text\n"
        for path in ("models/model.bin", "weights.bin", "data/features.bin"):
            assert is_stub(git_bytes("show", f"{commit}:{path}", cwd=repo))
        assert git("show", f"{commit}:notes.txt", cwd=repo).stdout.startswith("run ")

    # Every commit checks out with the same bytes as before, file by file (a file checkout
    # did not touch keeps the bytes verified at an earlier commit).
    assert git("status", "--porcelain", cwd=repo).stdout == ""
    previous = None
    no_hooks = repo.parent / "no-hooks"  # the post-checkout hook has nothing to fetch here:
    no_hooks.mkdir()  # skip its process start, 50 times over
    for i, commit in enumerate(new_commits):
        git("-c", f"core.hooksPath={no_hooks}", "checkout", "-q", commit, cwd=repo)
        changed = set(before[i]) if previous is None else set(
            git("diff", "--name-only", previous, commit, cwd=repo).stdout.split())
        for path in changed - {".gitattributes"}:
            assert sha256(repo / path) == before[i][path], (i, path)
        previous = commit
    assert git("status", "--porcelain", cwd=repo).stdout == ""
    git("checkout", "-q", "main", cwd=repo)

    # The backup ref restores the old history, raw files and all.
    git("update-ref", "refs/heads/main", backup[0], cwd=repo)
    git("reset", "-q", "--hard", cwd=repo)
    assert git("rev-list", "main", cwd=repo).stdout.split() == old_commits[::-1]
    assert not is_stub(git_bytes("show", "main:weights.bin", cwd=repo)[:100])
    assert sha256(repo / "models/model.bin") == before[-1]["models/model.bin"]
    git("update-ref", "refs/heads/main", new_commits[-1], cwd=repo)
    git("reset", "-q", "--hard", cwd=repo)

    # Dropping the backup (and the reflogs) lets git gc free the raw blobs.
    git("update-ref", "-d", backup[0], cwd=repo)
    git("reflog", "expire", "--expire=now", "--all", cwd=repo)
    git("gc", "-q", "--prune=now", cwd=repo)
    assert git_objects_size(repo) < 2 * MIB < size_before
    assert datax("fsck", "--all", cwd=repo).returncode == 0


def test_info_orders_types_by_total_size(repo: Path) -> None:
    fast_import(repo, {"a": b"x" * 5000, "b": b"y" * 7000, "c": b"z" * 100},
                [{"one.csv": "a", "two.csv": "c", "m.pt": "b"}, {"one.csv": "c", "m.pt": "b", "README": "a"}])
    proc = datax("migrate", "info")
    assert proc.returncode == 0, proc.stderr
    # Each distinct blob counts once, under the newest path that holds it (a: README).
    assert [line.split()[0] for line in proc.stdout.splitlines()] == ["pattern", "*.pt", "README", "*.csv"]
    assert proc.stdout.splitlines()[1].split()[1:4] == ["6.8", "KiB", "1"]
    assert proc.stdout.splitlines()[3].split()[1:4] == ["100", "B", "1"]


def _migrate_scratch_objects(repo: Path, pid: int) -> int:
    return sum(1 for _ in (repo / ".git" / "datax" / "migrate").glob(f"run-{pid}/store/objects/*/*/*"))


def _session_processes(sid: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[3]) == sid:  # field 6 of stat: session id
            pids.append(int(stat.parent.name))
    return pids


def _kill_halfway(repo: Path, sig: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["git-datax", "migrate", "import", "--include", "*.bin"], cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while _migrate_scratch_objects(repo, proc.pid) < 3:  # three of twenty files converted
        assert proc.poll() is None, "migrate finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    if sig == signal.SIGKILL:
        proc.kill()  # only migrate itself: git's children must notice and stop on their own
    else:
        os.killpg(proc.pid, sig)  # Ctrl-C reaches the whole foreground process group
    proc.stderr_text = proc.communicate(timeout=30)[1].decode()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 20
    while _session_processes(proc.pid):
        if time.monotonic() > deadline:
            for pid in _session_processes(proc.pid):
                os.kill(pid, signal.SIGKILL)
            raise AssertionError("git processes outlived the killed migrate")
        time.sleep(0.02)
    return proc


def test_interrupting_import_leaves_the_repository_as_it_was(make_repo) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo("raw")
    blobs = {f"f{i}": random_bytes(2 * MIB, seed=i) for i in range(20)}
    fast_import(repo, blobs, [{f"data/{j}.bin": f"f{j}" for j in range(i + 1)} for i in range(20)])
    state = refs_state(repo)
    objects = sorted(p.name for p in store_dir(repo).glob("objects/*/*/*"))

    killed = _kill_halfway(repo, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert refs_state(repo) == state
    assert sorted(p.name for p in store_dir(repo).glob("objects/*/*/*")) == objects
    assert (repo / "data/19.bin").read_bytes() == blobs["f19"]

    interrupted = _kill_halfway(repo, signal.SIGINT)
    assert interrupted.returncode == 130, interrupted.stderr_text  # type: ignore[attr-defined]
    assert interrupted.stderr_text.strip() == "git-datax: error: interrupted"  # type: ignore[attr-defined]
    assert refs_state(repo) == state
    assert sorted(p.name for p in store_dir(repo).glob("objects/*/*/*")) == objects
    assert not list((repo / ".git" / "datax" / "migrate").glob("run-*"))  # cleaned on the way out

    # A later run starts afresh and completes.
    proc = datax("migrate", "import", "--include", "*.bin", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert is_stub(git_bytes("show", "main:data/0.bin", cwd=repo))
    assert sha256(repo / "data/7.bin") == hashlib.sha256(blobs["f7"]).hexdigest()
    assert not list((repo / ".git" / "datax" / "migrate").glob("run-*"))


def test_import_refuses_an_untracked_gitattributes(repo: Path) -> None:
    fast_import(repo, {"a": random_bytes(5000, 1)}, [{"a.bin": "a"}])
    (repo / ".gitattributes").write_text("*.csv diff=csv\n")
    proc = datax("migrate", "import", "--include", "*.bin")
    assert proc.returncode == 1
    assert proc.stderr == f"git-datax: error: {repo / '.gitattributes'} is not committed: commit it (or move it away) first\n"
    assert (repo / ".gitattributes").read_text() == "*.csv diff=csv\n"


def test_import_boundary_commits_and_tags(repo: Path) -> None:
    fast_import(repo, {"a": random_bytes(5000, 1), "b": random_bytes(6000, 2), "t": b"text\n"},
                [{"a.bin": "a"}, {"a.bin": "a", "t.txt": "t"}, {"a.bin": "a", "b.bin": "b", "t.txt": "t"}])
    git("tag", "-a", "v1", "-m", "first", "main~1")
    old = git("rev-parse", "main~2", "main~1", "main", "v1^{}").stdout.split()
    proc = datax("migrate", "import", "--include", "*.bin", "main", "v1", "^main~2")
    assert proc.returncode == 0, proc.stderr
    new = git("rev-parse", "main~2", "main~1", "main", "v1^{}").stdout.split()
    assert new[0] == old[0]  # excluded: unchanged, raw
    assert not is_stub(git_bytes("show", "main~2:a.bin"))
    # The first rewritten commit inherits a.bin from an excluded parent: converted too.
    assert is_stub(git_bytes("show", "main~1:a.bin")) and is_stub(git_bytes("show", "main:b.bin"))
    assert new[3] == new[1] and git("cat-file", "-t", "v1").stdout.strip() == "tag"
    assert git("cat-file", "-p", "v1").stdout.endswith("\nfirst\n")
    assert git("show", "main~1:.gitattributes").stdout == "*.bin filter=datax diff=datax merge=datax -text\n"


def test_import_keeps_existing_attributes_and_refuses_bad_input(repo: Path) -> None:
    fast_import(repo, {"attrs": b"*.txt text eol=lf\n", "a": random_bytes(5000, 1)},
                [{".gitattributes": "attrs", "a.bin": "a"}])
    (repo / "a.bin").write_bytes(b"changed")
    proc = datax("migrate", "import", "--include", "*.bin")
    assert proc.returncode == 1
    assert proc.stderr.startswith("git-datax: error: the work tree has uncommitted changes")
    git("checkout", "--", "a.bin")
    proc = datax("migrate", "import")
    assert proc.returncode == 1 and "no --include patterns given" in proc.stderr
    proc = datax("migrate", "import", "--include", "*.bin", "no-such-branch")
    assert proc.returncode == 1 and "no-such-branch: not a branch or tag" in proc.stderr
    (repo / "sub").mkdir()
    # From a subdirectory, with a pattern anchored at the top.
    proc = datax("migrate", "import", "--include", "/a.bin", cwd=repo / "sub")
    assert proc.returncode == 0, proc.stderr
    assert is_stub(git_bytes("show", "main:a.bin"))
    assert git("show", "main:.gitattributes").stdout == \
        "*.txt text eol=lf\n/a.bin filter=datax diff=datax merge=datax -text\n"
    assert (repo / "a.bin").read_bytes() == random_bytes(5000, 1)
    assert git("status", "--porcelain").stdout == ""


def test_import_stopped_after_its_refs_moved_finishes_when_run_again(repo: Path) -> None:
    """Found by benchmarks/fault_injection.py: SIGTERM after the ref transaction and before the
    work tree followed left the old raw files against the rewritten HEAD, and running migrate
    again refused with 'the work tree has uncommitted changes'."""
    data = random_bytes(3000, seed=9)
    (repo / "m.bin").write_bytes(data)
    git("add", "m.bin")
    git("-c", "core.hooksPath=/dev/null", "commit", "-qm", "raw")
    old = git("rev-parse", "HEAD").stdout.strip()
    assert datax("migrate", "import", "--include", "*.bin").returncode == 0
    new = git("rev-parse", "HEAD").stdout.strip()
    # The state such a stop leaves: HEAD rewritten, index and work tree still the old commit's.
    git("read-tree", old)
    git("checkout-index", "-f", "-a")
    (repo / ".gitattributes").unlink()
    mark = store_dir(repo) / "migrate" / "refresh-pending"
    mark.parent.mkdir(parents=True, exist_ok=True)
    mark.write_text(f"{new} {old}\n")
    proc = datax("migrate", "import", "--include", "*.bin")
    assert proc.returncode == 0, proc.stderr
    assert "migrate: finishing the work tree update of a migrate that was stopped" in proc.stderr
    assert git("rev-parse", "HEAD").stdout.strip() == new
    assert git("status", "--porcelain").stdout == ""
    assert (repo / "m.bin").read_bytes() == data and not mark.exists()
