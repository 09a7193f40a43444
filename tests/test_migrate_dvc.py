"""`git datax migrate from-dvc` on a repository made by the real `dvc` client: two `dvc add`
commits (a folder and a file), a `dvc.yaml` stage run by `dvc repro`, a local DVC remote."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import datax, git, is_stub, make_writable, random_bytes, write

pytestmark = pytest.mark.skipif(shutil.which("dvc") is None, reason="dvc is installed by tests/requirements.txt")

CLIP_A = random_bytes(30_000, seed=31)
CLIP_B = b"a,b\r\n1,2\r\n"  # CRLF text: DVC 3 hashes it as it is
MODEL = random_bytes(200_000, seed=32)
PREPARE = b"import pathlib\npathlib.Path('out.txt').write_text(pathlib.Path('data/b.csv').read_text().upper())\n"


def dvc(*args: str, cwd: Path) -> None:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(cwd.parent / "dvc-site")}
    proc = subprocess.run(["dvc", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, f"dvc {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"


_TEMPLATE: list[Path] = []  # made once per session by dvc (seconds), copied by each test


@pytest.fixture
def dvc_project(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    """A copy of the repository _dvc_repo makes, beside its copy of the DVC remote."""
    if not _TEMPLATE:
        _TEMPLATE.append(_dvc_repo(tmp_path_factory.mktemp("dvc-template")))
    for name in ("dvcproj", "dvc-remote"):
        shutil.copytree(_TEMPLATE[0].parent / name, tmp_path / name, symlinks=True)
    return tmp_path / "dvcproj"


def _dvc_repo(root: Path) -> Path:
    repo = root / "dvcproj"
    git("init", "-q", str(repo))
    dvc("init", "-q", cwd=repo)
    write(repo / "data" / "a.bin", CLIP_A)
    write(repo / "data" / "b.csv", CLIP_B)
    dvc("add", "-q", "data", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "dvc add data", cwd=repo)
    write(repo / "models" / "asr.bin", MODEL)
    dvc("add", "-q", "models/asr.bin", cwd=repo)
    write(repo / "prepare.py", PREPARE)
    dvc("stage", "add", "-q", "-n", "prepare", "-d", "prepare.py", "-d", "data", "-o", "out.txt",
        "python3 prepare.py", cwd=repo)
    dvc("repro", "-q", cwd=repo)
    dvc("remote", "add", "-d", "store", "../dvc-remote", cwd=repo)
    dvc("push", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "dvc add model, prepare stage", cwd=repo)
    return repo


def test_from_dvc_converts_outputs_keeps_the_pipeline_and_maps_the_remote(tmp_path: Path, dvc_project: Path) -> None:
    repo = dvc_project
    dvc("remote", "add", "backup", "azure://container/path", cwd=repo)
    dvc("remote", "add", "web", "https://example.com/dvc", cwd=repo)
    git("commit", "-qam", "more remotes", cwd=repo)
    result = datax("migrate", "from-dvc", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "remote backup -> az://container/path" in result.stderr
    assert "warning: DVC remote web (https://example.com/dvc): gitdatax has no https:// backend" in result.stderr
    assert "4 file(s)" in result.stderr and "data, models/asr.bin, out.txt" in result.stderr, result.stderr
    assert "remote store -> " in result.stderr
    for rel in ("data.dvc", "models/asr.bin.dvc"):
        assert not (repo / rel).exists()
    assert not (repo / ".gitignore").exists()  # it held only DVC's lines (/data, /out.txt)
    assert not (repo / "models" / ".gitignore").exists()
    assert (repo / ".dvc" / ".gitignore").exists()  # DVC's own, not an output's
    attributes = (repo / ".gitattributes").read_text()
    for pattern in ("/data/**", "/models/asr.bin", "/out.txt"):
        assert f"{pattern} filter=datax diff=datax merge=datax -text" in attributes
    team = (repo / ".datax.toml").read_text()
    assert '[remote.store]' in team and 'url = "../dvc-remote"' in team and "default = true" in team
    git("commit", "-qm", "from DVC", cwd=repo)
    for rel, data in (("data/a.bin", CLIP_A), ("data/b.csv", CLIP_B), ("models/asr.bin", MODEL),
                      ("out.txt", b"A,B\n1,2\n")):  # read_text reads CRLF as LF
        assert is_stub(git("show", f"HEAD:{rel}", cwd=repo).stdout.encode()), rel
        assert (repo / rel).read_bytes() == data and not (repo / rel).is_symlink(), rel
    assert git("status", "--porcelain", cwd=repo).stdout == ""
    assert (repo / "dvc.yaml").exists() and (repo / "dvc.lock").exists()
    # The pipeline runner reads dvc.yaml as it is.
    dag = datax("dag", cwd=repo)
    assert dag.returncode == 0 and "prepare" in dag.stdout, dag.stderr
    repro = datax("repro", cwd=repo)
    assert repro.returncode == 0, repro.stderr
    assert (repo / "out.txt").read_bytes() == b"A,B\n1,2\n"
    # A clone gets the data from the migrated remote (DVC's remote folder, now also gitdatax's).
    assert datax("push", cwd=repo).returncode == 0
    bare = tmp_path / "converted.git"
    git("clone", "-q", "--bare", str(repo), str(bare))
    clone = tmp_path / "clone"
    git("clone", "-q", str(bare), str(clone))
    assert (clone / "models" / "asr.bin").read_bytes() == MODEL
    assert (tmp_path / "dvc-remote" / "objects").is_dir()


def test_objects_come_from_the_dvc_remote_when_the_cache_lacks_them(tmp_path: Path, dvc_project: Path) -> None:
    repo = dvc_project
    cache = repo / ".dvc" / "cache"
    for path in cache.rglob("*"):
        make_writable(path)
    shutil.rmtree(cache)
    result = datax("migrate", "from-dvc", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert (repo / "models" / "asr.bin").read_bytes() == MODEL


def test_a_missing_or_corrupt_object_changes_nothing(tmp_path: Path, dvc_project: Path) -> None:
    repo = dvc_project
    shutil.rmtree(tmp_path / "dvc-remote")
    md5 = next(line.split()[-1] for line in (repo / "models" / "asr.bin.dvc").read_text().splitlines()
               if "md5:" in line)
    cached = repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    make_writable(cached)
    cached.unlink()
    before = git("status", "--porcelain", cwd=repo).stdout
    result = datax("migrate", "from-dvc", cwd=repo)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert f"models/asr.bin (models/asr.bin.dvc): object {md5} is in neither DVC's cache" in result.stderr
    assert (repo / "models" / "asr.bin.dvc").exists() and git("status", "--porcelain", cwd=repo).stdout == before
    data_md5 = next(p for p in (repo / ".dvc" / "cache" / "files" / "md5").rglob("*") if p.is_file()
                    and not p.name.endswith(".dir") and p.stat().st_size == len(CLIP_A))
    make_writable(data_md5)
    data_md5.write_bytes(b"x" * len(CLIP_A))
    corrupt = datax("migrate", "from-dvc", cwd=repo)
    assert corrupt.returncode == 1 and "does not match its md5" in corrupt.stderr, corrupt.stderr


def test_not_a_dvc_repository(tmp_path: Path, repo: Path) -> None:
    result = datax("migrate", "from-dvc", cwd=repo)
    assert result.returncode == 1 and "is not a DVC repository (no .dvc/ folder)" in result.stderr


def test_rewrite_history_turns_every_commit_s_dvc_files_into_stubs(tmp_path: Path, dvc_project: Path) -> None:
    repo = dvc_project
    # A third commit changes the folder: b.csv goes, c.bin comes (the folder's old files must go).
    (repo / "data" / "b.csv").unlink()
    write(repo / "data" / "c.bin", b"clip c" * 100)
    dvc("add", "-q", "data", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "dvc add data again", cwd=repo)
    old_head = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    result = datax("migrate", "from-dvc", "--rewrite-history", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "refs/heads/main: " in result.stderr and "refs/datax-backup/" in result.stderr
    log = git("log", "--format=%H", "--reverse", cwd=repo).stdout.split()
    assert len(log) == 3 and old_head not in log
    first, second, third = log
    for commit in log:
        names = git("ls-tree", "-r", "--name-only", commit, cwd=repo).stdout.split()
        assert not [n for n in names if n.endswith(".dvc") and not n.startswith(".dvc/")], (commit, names)
        assert "/data/** filter=datax" in git("show", f"{commit}:.gitattributes", cwd=repo).stdout
    assert git("ls-tree", "-r", "--name-only", first, "data", cwd=repo).stdout.split() == ["data/a.bin", "data/b.csv"]
    assert "models/asr.bin" in git("ls-tree", "-r", "--name-only", second, cwd=repo).stdout.split()
    assert git("ls-tree", "-r", "--name-only", third, "data", cwd=repo).stdout.split() == ["data/a.bin", "data/c.bin"]
    assert is_stub(git("show", f"{first}:data/b.csv", cwd=repo).stdout.encode())
    assert "/data" not in git("show", f"{third}:.gitignore", cwd=repo).stdout.split()
    # The checked-out branch was refreshed; an old commit checks out with its data.
    assert (repo / "models" / "asr.bin").read_bytes() == MODEL
    git("checkout", "-q", first, cwd=repo)
    assert (repo / "data" / "b.csv").read_bytes() == CLIP_B and not (repo / "models" / "asr.bin").exists()
    assert '[remote.store]' in (repo / ".datax.toml").read_text()


def test_a_dvc_import_keeps_its_origin_for_git_datax_update(tmp_path: Path, dvc_project: Path) -> None:
    source = dvc_project
    consumer = tmp_path / "consumer"
    git("init", "-q", str(consumer))
    dvc("init", "-q", cwd=consumer)
    dvc("import", "-q", str(source), "models/asr.bin", "-o", "asr.bin", cwd=consumer)
    git("add", "-A", cwd=consumer)
    git("commit", "-qm", "dvc import", cwd=consumer)
    lock = git("rev-parse", "HEAD", cwd=source).stdout.strip()
    result = datax("migrate", "from-dvc", cwd=consumer)
    assert result.returncode == 0, result.stderr
    assert "asr.bin came from `dvc import`" in result.stderr
    imports = (consumer / ".datax-imports.toml").read_text()
    assert '["asr.bin"]' in imports and f'repo = "{source}"' in imports and f'commit = "{lock}"' in imports
    assert 'path = "models/asr.bin"' in imports
    git("commit", "-qm", "from DVC", cwd=consumer)
    assert is_stub(git("show", "HEAD:asr.bin", cwd=consumer).stdout.encode())
    assert (consumer / "asr.bin").read_bytes() == MODEL
