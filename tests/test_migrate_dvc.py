"""`git datax migrate from-dvc` on a repository made by the real `dvc` client: two `dvc add`
commits (a folder and a file), a `dvc.yaml` stage run by `dvc repro`, a local DVC remote."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import datax, git, is_stub, make_writable, random_bytes, write
from sshd_server import sshd

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
    assert "warning: DVC remote web (https://example.com/dvc): not converted: DVC's http(s) remote" in result.stderr
    assert "[remote.web]" not in (repo / ".datax.toml").read_text()
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


def _local_config(repo: Path) -> dict[str, str]:
    listed = git("config", "--local", "--get-regexp", r"^datax\.remote\.", cwd=repo, check=False).stdout
    return dict(line.split(" ", 1) for line in listed.splitlines())


def test_ssh_webdav_and_http_remotes_credentials_stay_out_of_the_team_file(tmp_path: Path, dvc_project: Path) -> None:
    """DVC's ssh remote becomes gitdatax's on the same folder (its login and key in git config),
    a webdav login goes to git config, an http remote is named with what to run instead; no
    credential reaches .datax.toml or the output. The ssh remote then works: push, and a clone
    pulls from it over a real sshd."""
    repo = dvc_project
    store = tmp_path / "ssh-store"
    store.mkdir()
    with sshd(tmp_path / "sshd") as server:
        key = tmp_path / "sshd" / "user_key"
        dvc("remote", "add", "box", f"ssh://127.0.0.1{store}", cwd=repo)
        dvc("remote", "modify", "box", "port", str(server.port), cwd=repo)
        for option, value in (("user", server.user), ("keyfile", str(key)), ("password", "ssh-secret-1")):
            dvc("remote", "modify", "--local", "box", option, value, cwd=repo)
        dvc("remote", "add", "web", "https://example.com/dvc", cwd=repo)
        dvc("remote", "modify", "--local", "web", "user", "alice", cwd=repo)
        dvc("remote", "modify", "--local", "web", "password", "http-secret-2", cwd=repo)
        dvc("remote", "add", "dav", "webdavs://example.com/dav", cwd=repo)
        dvc("remote", "modify", "--local", "dav", "user", "bob", cwd=repo)
        dvc("remote", "modify", "--local", "dav", "password", "dav-secret-3", cwd=repo)
        assert "ssh-secret-1" in (repo / ".dvc" / "config.local").read_text()  # where DVC keeps them
        git("commit", "-qam", "more remotes", cwd=repo)

        result = datax("migrate", "from-dvc", cwd=repo)
        assert result.returncode == 0, result.stderr
        team = (repo / ".datax.toml").read_text()
        ssh_url = f"ssh://127.0.0.1:{server.port}{store}"
        assert f'[remote.box]\nurl = "{ssh_url}"\n' in team, team
        assert '[remote.dav]\nurl = "webdavs://example.com/dav"\n' in team, team
        assert "[remote.web]" not in team
        for secret in ("ssh-secret-1", "http-secret-2", "dav-secret-3", "alice", "bob", f"{server.user}@", "user_key"):
            assert secret not in team, secret
            assert secret not in result.stderr, secret
        assert _local_config(repo) == {
            "datax.remote.box.url": f"ssh://{server.user}@127.0.0.1:{server.port}{store}",
            "datax.remote.box.sshcommand": f"ssh -i {key}",
            "datax.remote.dav.user": "bob",
            "datax.remote.dav.password": "dav-secret-3",
        }
        assert f"migrate: remote box -> {ssh_url} (gitdatax's ssh remote: the host needs git-datax" in result.stderr
        assert "datax.remote.box.sshcommand set in this repository's git config" in result.stderr
        assert (f"warning: DVC remote box (ssh://127.0.0.1{store}): password not copied: gitdatax's ssh remote logs "
                "in with the ssh program") in result.stderr
        assert ("warning: DVC remote web (https://example.com/dvc): not converted: DVC's http(s) remote is a plain "
                "tree of files over HTTP, while gitdatax's http(s):// remote is a Git LFS server") in result.stderr
        assert "run `git datax remote add web webdavs://example.com/dvc`" in result.stderr
        assert "its credentials (password, user) were not copied" in result.stderr
        # The team file passes its own allowlist (a clone reads it on every command).
        listed = datax("remote", "list", cwd=repo)
        assert listed.returncode == 0 and "box" in listed.stdout, listed.stderr
        git("commit", "-qm", "from DVC", cwd=repo)

        # The converted key does log in: with IdentitiesOnly no other key is tried (the test's
        # sshd is new to known_hosts, hence the other options).
        command = (f"ssh -i {key} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no "
                   "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR")
        git("config", "datax.remote.box.sshcommand", command, cwd=repo)
        pushed = datax("push", "box", cwd=repo)
        assert pushed.returncode == 0, pushed.stderr
        assert (store / "objects").is_dir()
        clone = tmp_path / "clone"
        git("clone", "-q", str(repo), str(clone), env={"GIT_DATAX_SKIP_SMUDGE": "1"})
        assert is_stub((clone / "models" / "asr.bin").read_bytes())
        git("config", "datax.remote.box.url", f"ssh://{server.user}@127.0.0.1:{server.port}{store}", cwd=clone)
        git("config", "datax.remote.box.sshcommand", command, cwd=clone)
        pulled = datax("pull", "box", cwd=clone)
        assert pulled.returncode == 0, pulled.stderr
        assert (clone / "models" / "asr.bin").read_bytes() == MODEL
        assert (clone / "data" / "a.bin").read_bytes() == CLIP_A


def test_a_password_in_a_url_goes_to_git_config_and_a_value_there_is_kept(tmp_path: Path, dvc_project: Path) -> None:
    repo = dvc_project
    dvc("remote", "add", "dav", "webdavs://example.com/dav", cwd=repo)
    dvc("remote", "modify", "--local", "dav", "user", "bob", cwd=repo)
    dvc("remote", "add", "inline", "webdavs://carl:url-secret-4@example.com/inline", cwd=repo)
    git("config", "datax.remote.dav.user", "carol", cwd=repo)
    result = datax("migrate", "from-dvc", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert git("config", "datax.remote.dav.user", cwd=repo).stdout.strip() == "carol"
    assert ("warning: DVC remote dav: datax.remote.dav.user is already set in this repository's git config to "
            "another value: left as it is") in result.stderr
    team = (repo / ".datax.toml").read_text()
    assert '[remote.inline]\nurl = "webdavs://example.com/inline"\n' in team and "carl" not in team
    assert "url-secret-4" not in team and "url-secret-4" not in result.stderr
    assert git("config", "datax.remote.inline.url", cwd=repo).stdout.strip() == "webdavs://carl:url-secret-4@example.com/inline"
    listed = datax("remote", "list", cwd=repo)  # the team file passes its allowlist
    assert listed.returncode == 0 and "inline" in listed.stdout, listed.stderr


def test_a_remote_only_in_config_local_goes_to_git_config_with_config_local_s_default(
        tmp_path: Path, dvc_project: Path) -> None:
    """DVC merges .dvc/config.local over .dvc/config: a remote defined only there, its default
    and its own settings are this machine's, so they go to this repository's git config (which
    overrides the team file as config.local overrides config); .datax.toml gets only .dvc/config.
    The objects come from that remote too, when only it has them."""
    repo = dvc_project
    dvc("remote", "add", "shared", "s3://team-bucket/dvc", cwd=repo)
    dvc("remote", "modify", "shared", "region", "eu-west-3", cwd=repo)
    dvc("remote", "modify", "--local", "shared", "endpointurl", "http://minio.mine.invalid:9000", cwd=repo)
    dvc("remote", "add", "--local", "mine", "../mine-remote", cwd=repo)  # DVC writes it relative to .dvc/
    dvc("remote", "default", "--local", "mine", cwd=repo)
    dvc("remote", "add", "--local", "scratch", "s3://my-own-bucket/dvc", cwd=repo)
    dvc("remote", "modify", "--local", "scratch", "endpointurl", "http://127.0.0.1:9", cwd=repo)
    dvc("remote", "modify", "--local", "scratch", "profile", "personal", cwd=repo)
    dvc("push", "-q", "-r", "mine", cwd=repo)
    git("commit", "-qam", "a shared remote", cwd=repo)
    assert "mine" not in (repo / ".dvc" / "config").read_text()  # where DVC keeps them
    assert "../../mine-remote" in (repo / ".dvc" / "config.local").read_text()
    # Only the local-only remote has the objects now.
    for gone in (repo / ".dvc" / "cache", tmp_path / "dvc-remote"):
        for path in gone.rglob("*"):
            make_writable(path)
        shutil.rmtree(gone)

    result = datax("migrate", "from-dvc", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert (repo / "models" / "asr.bin").read_bytes() == MODEL  # read from `mine`
    mine = tmp_path / "mine-remote"
    assert (f"migrate: remote mine -> {mine} (only in .dvc/config.local, this machine's: in this repository's "
            "git config, not in .datax.toml)") in result.stderr, result.stderr
    assert "migrate: remote scratch -> s3://my-own-bucket/dvc (only in .dvc/config.local" in result.stderr
    assert "migrate: remote shared -> s3://team-bucket/dvc (in .datax.toml)" in result.stderr
    team = (repo / ".datax.toml").read_text()
    assert team == ('[remote.store]\nurl = "../dvc-remote"\ndefault = true\n\n'
                    '[remote.shared]\nurl = "s3://team-bucket/dvc"\nregion = "eu-west-3"\n'), team
    assert _local_config(repo) == {
        "datax.remote.shared.endpoint-url": "http://minio.mine.invalid:9000",
        "datax.remote.mine.url": str(mine),
        "datax.remote.mine.default": "true",
        "datax.remote.scratch.url": "s3://my-own-bucket/dvc",
        "datax.remote.scratch.endpoint-url": "http://127.0.0.1:9",
        "datax.remote.scratch.profile": "personal",
    }
    assert "personal" not in result.stderr
    # As DVC would: config.local's default wins here, the team's everywhere else.
    listed = datax("remote", "list", cwd=repo)
    assert listed.returncode == 0, listed.stderr
    assert f"mine     {mine}  (default)" in listed.stdout, listed.stdout
    git("commit", "-qm", "from DVC", cwd=repo)
    pushed = datax("push", cwd=repo)
    assert pushed.returncode == 0, pushed.stderr
    assert (mine / "objects").is_dir()


def test_dvc_s_global_and_system_config_are_read_as_dvc_reads_them(tmp_path: Path, dvc_project: Path) -> None:
    """DVC merges its system and global config under the project's: a remote defined only
    there, the options they add to a committed remote, and a `cache.dir` of theirs are this
    user's or this machine's, so they go to this repository's git config (never .datax.toml);
    what .dvc/config sets wins over them, as in DVC. The objects are read from that cache."""
    repo = dvc_project
    home = Path(os.environ["HOME"])
    dvc("remote", "add", "shared", "s3://team-bucket/dvc", cwd=repo)
    dvc("remote", "modify", "shared", "region", "eu-west-3", cwd=repo)
    # DVC modifies only a remote of the same file: the user names the team's remote there too
    dvc("remote", "add", "--global", "shared", "s3://team-bucket/dvc", cwd=repo)
    dvc("remote", "modify", "--global", "shared", "region", "us-east-1", cwd=repo)  # the project's wins
    dvc("remote", "modify", "--global", "shared", "endpointurl", "http://minio.mine.invalid:9000", cwd=repo)
    dvc("remote", "modify", "--global", "shared", "profile", "personal", cwd=repo)
    archive = tmp_path / "archive"
    dvc("remote", "add", "--global", "archive", str(archive), cwd=repo)
    dvc("remote", "default", "--global", "archive", cwd=repo)  # the project's default wins
    dvc("remote", "add", "--system", "site", "s3://site-bucket/dvc", cwd=repo)
    user_cache = tmp_path / "user-cache"
    shutil.move(str(repo / ".dvc" / "cache"), str(user_cache))
    dvc("cache", "dir", "--global", str(user_cache), cwd=repo)
    git("commit", "-qam", "a shared remote", cwd=repo)
    assert "archive" in (home / ".config" / "dvc" / "config").read_text()  # where DVC keeps them
    assert "site" in (home / "dvc-system" / "config").read_text()
    for path in (tmp_path / "dvc-remote").rglob("*"):  # only the user's cache has the objects
        make_writable(path)
    shutil.rmtree(tmp_path / "dvc-remote")

    result = datax("migrate", "from-dvc", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert (repo / "models" / "asr.bin").read_bytes() == MODEL  # read from the global cache.dir
    assert (repo / "data" / "a.bin").read_bytes() == CLIP_A
    assert (f"migrate: remote archive -> {archive} (only in DVC's global config ~/.config/dvc/config, this "
            "user's: in this repository's git config, not in .datax.toml)") in result.stderr, result.stderr
    assert ("migrate: remote site -> s3://site-bucket/dvc (only in DVC's system config ~/dvc-system/config, "
            "this machine's: in this repository's git config, not in .datax.toml)") in result.stderr
    team = (repo / ".datax.toml").read_text()
    assert team == ('[remote.store]\nurl = "../dvc-remote"\ndefault = true\n\n'
                    '[remote.shared]\nurl = "s3://team-bucket/dvc"\nregion = "eu-west-3"\n'), team
    assert _local_config(repo) == {
        "datax.remote.shared.endpoint-url": "http://minio.mine.invalid:9000",
        "datax.remote.shared.profile": "personal",
        "datax.remote.archive.url": str(archive),
        "datax.remote.site.url": "s3://site-bucket/dvc",
    }
    listed = datax("remote", "list", cwd=repo)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].startswith("store "), listed.stdout  # the project's default


def test_a_malformed_dvc_global_config_is_one_line_and_changes_nothing(dvc_project: Path) -> None:
    config = Path(os.environ["HOME"]) / ".config" / "dvc" / "config"
    config.parent.mkdir(parents=True)
    config.write_text("['remote \"archive\"'\nurl = /x\n")
    before = git("status", "--porcelain", cwd=dvc_project).stdout
    result = datax("migrate", "from-dvc", cwd=dvc_project)
    assert result.returncode == 1
    assert result.stderr.startswith(f"git-datax: error: {config}: not a DVC config file (")
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert git("status", "--porcelain", cwd=dvc_project).stdout == before
    assert (dvc_project / "models" / "asr.bin.dvc").exists()


@pytest.mark.parametrize("rewrite", [False, True], ids=["checked-out", "rewrite-history"])
def test_an_output_named_with_glob_characters_is_tracked_and_unignored(dvc_project: Path, rewrite: bool) -> None:
    """DVC 3 escapes `[]#!*?\\` in the .gitignore line it writes (`/\\#take \\[1\\].bin`): the line
    stayed, so the output stayed ignored and was left out of the commit while its .dvc file went;
    and `/#take [1].bin` in .gitattributes is a glob that matches `#take 1.bin`, not the file."""
    repo = dvc_project
    name = "#take [1].bin"
    write(repo / "clips" / name, CLIP_A)
    dvc("add", "-q", f"clips/{name}", cwd=repo)
    assert (repo / "clips" / ".gitignore").read_text() == "/\\#take \\[1\\].bin\n"  # as DVC writes it
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "a take", cwd=repo)
    args = ["--rewrite-history"] if rewrite else []
    result = datax("migrate", "from-dvc", *args, cwd=repo)
    assert result.returncode == 0, result.stderr
    if not rewrite:
        git("commit", "-qm", "from DVC", cwd=repo)
    assert is_stub(git("show", f"HEAD:clips/{name}", cwd=repo).stdout.encode())
    names = git("ls-tree", "-z", "--name-only", "HEAD", "clips/", cwd=repo).stdout.split("\0")
    assert f"clips/{name}" in names
    if "clips/.gitignore" in names:  # a rewritten commit keeps the file, emptied
        assert git("show", "HEAD:clips/.gitignore", cwd=repo).stdout == ""
    assert git("check-attr", "filter", "--", f"clips/{name}", cwd=repo).stdout == f"clips/{name}: filter: datax\n"
    assert git("check-attr", "filter", "--", "clips/#take 1.bin", cwd=repo).stdout.endswith(": unspecified\n")
    assert (repo / "clips" / name).read_bytes() == CLIP_A
    assert git("status", "--porcelain", "--ignored", "--", "clips", cwd=repo).stdout == ""


def test_stage_outputs_of_a_dvc_yaml_in_a_subfolder_and_with_wdir(dvc_project: Path) -> None:
    """Only the top dvc.lock was read, and a stage's `wdir` was looked for in dvc.lock (DVC
    writes it only in dvc.yaml): the outputs of sub/dvc.yaml stayed DVC's, ignored and out of
    the commit, while the migration said it was done. `cache: false` outputs stay Git's."""
    repo = dvc_project
    write(repo / "sub" / "dvc.yaml", b"stages:\n"
          b"  gen:\n    cmd: python3 -c \"open('gen.txt','w').write('g'*100)\"\n    outs:\n    - gen.txt\n"
          b"  plain:\n    cmd: echo 1 > metrics.json\n    outs:\n    - metrics.json:\n        cache: false\n"
          b"  up:\n    wdir: ..\n    cmd: mkdir -p top_out && echo t > top_out/t.txt\n    outs:\n    - top_out\n")
    dvc("repro", "-q", "sub/dvc.yaml", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "a pipeline in sub/", cwd=repo)
    result = datax("migrate", "from-dvc", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "data, models/asr.bin, out.txt, sub/gen.txt, top_out" in result.stderr, result.stderr
    git("commit", "-qm", "from DVC", cwd=repo)
    for rel, data in (("sub/gen.txt", b"g" * 100), ("top_out/t.txt", b"t\n")):
        assert is_stub(git("show", f"HEAD:{rel}", cwd=repo).stdout.encode()), rel
        assert (repo / rel).read_bytes() == data
    assert git("show", "HEAD:sub/metrics.json", cwd=repo).stdout == "1\n"  # cache: false: Git's as it was
    assert not (repo / "sub" / ".gitignore").exists()
    assert git("status", "--porcelain", "--ignored", "--", "sub", "top_out", cwd=repo).stdout == ""
