"""`gitdatax.api.open` and `read` for deployment code: text and binary, another repository or
this one, streaming a 300 MiB file in bounded memory, errors as exceptions with clear text."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from helpers import datax, git
from sharehelpers import V1, V2, team  # noqa: F401 - the fixture


def _api(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run deployment code in a fresh interpreter (as a deployment script would), with its own
    temporary folder, which must be empty again when it ends."""
    scratch = cwd.parent / f"tmp-{cwd.name}"
    scratch.mkdir(exist_ok=True)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TMPDIR": str(scratch)})
    assert os.listdir(scratch) == [], "the temporary repository was left behind"
    return proc


def test_read_and_open_another_repository_in_text_and_binary_mode(tmp_path: Path, team: tuple[Path, Path]) -> None:
    server, _ = team
    proc = _api(f"""
        import hashlib, gitdatax.api as api
        print(hashlib.sha256(api.read("models/asr.bin", repo={str(server)!r}, rev="v1", mode="rb")).hexdigest())
        print(repr(api.read("data/labels.txt", repo={str(server)!r}, rev="v1")))
        with api.open("data/labels.txt", repo={str(server)!r}) as f:
            print(repr(f.readline()), type(f.read()).__name__)
        with api.open("data/clips/c.bin", repo={str(server)!r}, mode="rb") as f:
            print(len(f.read(1000)), len(f.read()))
        """, tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == hashlib.sha256(V1["models/asr.bin"]).hexdigest()
    assert lines[1] == repr("a\nb\n")
    assert lines[2] == "'a\\n' str"
    assert lines[3] == "1000 4000"


def test_repo_none_reads_this_repository_at_a_revision_and_in_the_work_tree(tmp_path: Path, team: tuple[Path, Path]) -> None:
    _, work = team
    proc = _api("""
        import hashlib, gitdatax.api as api
        print(hashlib.sha256(api.read("models/asr.bin", rev="v1", mode="rb")).hexdigest())
        print(hashlib.sha256(api.read("models/asr.bin", mode="rb")).hexdigest())
        print(api.read("README.md", rev="v1"), end="")
        """, work)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [hashlib.sha256(V1["models/asr.bin"]).hexdigest(),
                                        hashlib.sha256(V2["models/asr.bin"]).hexdigest(), "# team"]


def test_a_stub_left_in_the_work_tree_is_read_from_the_remote(tmp_path: Path, team: tuple[Path, Path]) -> None:
    server, _ = team
    clone = tmp_path / "clone"
    git("clone", "-q", str(server), str(clone), env={"GIT_DATAX_SKIP_SMUDGE": "1"})
    assert (clone / "models" / "asr.bin").read_bytes().startswith(b"version gitdatax/1\n")
    proc = _api("""
        import hashlib, gitdatax.api as api
        print(hashlib.sha256(api.read("models/asr.bin", mode="rb")).hexdigest())
        """, clone)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == hashlib.sha256(V2["models/asr.bin"]).hexdigest()


def test_errors_are_exceptions_with_one_clear_line(tmp_path: Path, team: tuple[Path, Path]) -> None:
    server, work = team
    proc = _api(f"""
        import gitdatax.api as api
        for kwargs in [dict(path="nope.bin", repo={str(server)!r}), dict(path="models/asr.bin", repo={str(server)!r}, rev="v7"),
                       dict(path="models/asr.bin", repo={str(tmp_path / 'gone.git')!r}), dict(path="data", repo={str(server)!r}),
                       dict(path="models/asr.bin", rev="nosuch")]:
            try:
                api.read(**kwargs)
            except api.Error as exc:
                print(type(exc).__name__, "|", exc)
        try:
            api.open("models/asr.bin", mode="w")
        except ValueError as exc:
            print("ValueError |", exc)
        """, work)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 6, lines
    assert "nope.bin is not in" in lines[0]
    assert "unknown revision 'v7'" in lines[1]
    assert "cannot read the repository" in lines[2]
    assert "data is a folder" in lines[3]
    assert "unknown revision 'nosuch'" in lines[4]
    assert "only reading" in lines[5]


def test_remote_names_one_of_the_other_repository_s_remotes(tmp_path: Path, team: tuple[Path, Path]) -> None:
    """`remote=` with `repo=` was ignored (the default remote was asked whatever it named), where
    dvc.api.open takes it for any repo: a deployment that cannot reach the default could not say
    which to use. `get --remote` says it too, as `dvc get --remote`."""
    server, work = team
    (work / ".datax.toml").write_text('[remote.down]\nurl = "http://127.0.0.1:9/info/lfs"\ndefault = true\n\n'
                                      f'[remote.nas]\nurl = "{server}/datax"\n')
    git("add", ".datax.toml", cwd=work)
    git("commit", "-qm", "the default remote is down; nas is not", cwd=work)
    git("push", "-q", "--no-verify", "origin", "HEAD:main", cwd=work)
    proc = _api(f"""
        import hashlib, gitdatax.api as api
        print(hashlib.sha256(api.read("models/asr.bin", repo={str(server)!r}, remote="nas", mode="rb")).hexdigest())
        for remote in (None, "nosuch"):
            try:
                api.read("models/asr.bin", repo={str(server)!r}, remote=remote, mode="rb")
            except api.Error as exc:
                print(exc)
        """, tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == hashlib.sha256(V2["models/asr.bin"]).hexdigest()
    assert "cannot get models/asr.bin" in lines[1] and "127.0.0.1:9" in lines[1]
    assert lines[2].startswith("no remote named 'nosuch' (known: down, nas, origin"), lines[2]
    got = datax("get", str(server), "models/asr.bin", "--remote", "nas", "-o", "asr.bin", cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "asr.bin").read_bytes() == V2["models/asr.bin"]
    assert f"from {server}/datax" in got.stderr


MIB = 300
# The peak is VmHWM: the high-water mark of this program's own memory map, made at its exec.
# Not ru_maxrss: Linux carries the RSS of the process that forked it into the exec'd program's
# ru_maxrss (exec_mmap keeps the old map's high-water mark in signal->maxrss), so after other
# test files had grown pytest to 237 MiB this child reported 258 MiB while its own peak was 41
# MiB (and 283-706 MiB in full runs, the xfail this replaced: no buffer of api.open grows).
STREAM = textwrap.dedent("""
    import hashlib, resource, sys, gitdatax.api as api
    digest = hashlib.sha256()
    with api.open("big.bin", repo=sys.argv[1], rev="v1", mode="rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    with open("/proc/self/status") as status:
        peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(digest.hexdigest(), peak_kib, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""")


def test_open_streams_a_300_mib_file_under_100_mib_rss(tmp_path: Path) -> None:
    server = tmp_path / "big.git"
    git("init", "-q", "--bare", str(server))
    work = tmp_path / "bigwork"
    git("clone", "-q", str(server), str(work))
    assert datax("track", "*.bin", cwd=work).returncode == 0
    digest = hashlib.sha256()
    with open(work / "big.bin", "wb") as f:  # compressible, so the test stays fast; every MiB differs
        for i in range(MIB):
            block = i.to_bytes(4, "little") * (1 << 18)
            digest.update(block)
            f.write(block)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "big", cwd=work)
    git("tag", "v1", cwd=work)
    git("push", "-q", "origin", "HEAD:main", "--tags", cwd=work)
    os.unlink(work / "big.bin")
    proc = _api(STREAM.replace("sys.argv[1]", repr(str(server))), work)
    assert proc.returncode == 0, proc.stderr
    hexdigest, peak_kib, maxrss_kib = proc.stdout.split()
    assert hexdigest == digest.hexdigest()
    # ru_maxrss is shown beside it: far above VmHWM, it is the forking pytest's size, not ours.
    assert int(peak_kib) < 100 * 1024, (f"peak RSS {int(peak_kib) // 1024} MiB (VmHWM; ru_maxrss, which counts "
                                        f"the parent at fork, {int(maxrss_kib) // 1024} MiB)")
