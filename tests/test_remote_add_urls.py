"""`git datax remote add` checks the URL (issue 16 item 2): a typo is one line when the remote is
added, not a puzzle at the first push; a directory that is not there is said, and made on request."""
from __future__ import annotations

import os
import pty
from pathlib import Path

import pytest

from helpers import datax, git


@pytest.mark.parametrize("url, message", [
    ("s3:/acme/proj", "remote s3:/acme/proj: this would be read as ssh host 's3'; did you mean s3://acme/proj?"),
    ("s3:acme/proj", "remote s3:acme/proj: this would be read as ssh host 's3'; did you mean s3://acme/proj?"),
    ("gs:/acme", "remote gs:/acme: this would be read as ssh host 'gs'; did you mean gs://acme?"),
    ("webdva://h/proj", "remote webdva://h/proj: unsupported URL scheme 'webdva' (did you mean webdav://? use a path, "
                        "s3://, gs://, az://, webdav(s)://, hdfs://, http(s):// (Git LFS), ssh://)"),
    ("gs:///proj", "remote gs:///proj: no bucket in the URL (gs://BUCKET/PREFIX)"),
    ("az://", "remote az://: no container in the URL (az://CONTAINER/PREFIX)"),
    ("webdav:///dav", "remote webdav:///dav: no host in the URL"),
])
def test_url_typos_are_one_line(url: str, message: str) -> None:
    from gitdatax.errors import FatalError
    from gitdatax.remotes.url_check import check_url

    with pytest.raises(FatalError) as refused:
        check_url(url)
    assert str(refused.value) == message


def test_remote_add_refuses_a_typo_before_writing_anything(repo: Path) -> None:
    for local in ([], ["--local"]):
        proc = datax("remote", "add", *local, "team", "s3:/acme/proj")
        assert (proc.returncode, proc.stderr) == (1, "git-datax: error: remote s3:/acme/proj: this would be read as "
                                                     "ssh host 's3'; did you mean s3://acme/proj?\n")
    assert not (repo / ".datax.toml").exists()
    assert git("config", "--local", "--get-regexp", "^datax\\.", check=False).stdout == ""


def test_an_ssh_host_is_still_an_ssh_host() -> None:
    from gitdatax.remotes.url_check import check_url

    assert check_url("git@s3:proj").scheme == "ssh" and check_url("storage:proj").scheme == "ssh"


def test_remote_add_of_a_directory_that_does_not_exist(repo: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nas" / "proj"
    proc = datax("remote", "add", "--local", "nas", str(missing))
    assert proc.returncode == 0
    assert proc.stderr.splitlines()[0] == (
        f"git-datax: warning: no such directory {missing} (yet): check the path, or run again with --create to make it")
    assert not missing.exists()
    assert datax("remote", "remove", "--local", "nas").returncode == 0
    proc = datax("remote", "add", "--local", "nas", str(missing), "--create")
    assert proc.returncode == 0 and "warning" not in proc.stderr and missing.is_dir()
    # On a terminal the question is asked, and a yes makes it.
    other = tmp_path / "other"
    pid, fd = pty.fork()
    if pid == 0:  # the child: git datax on a terminal, in the repository
        os.chdir(repo)
        os.execvp("git", ["git", "datax", "remote", "add", "--local", "other", str(other)])
    screen = b""
    while b"[y/N]" not in screen:
        screen += os.read(fd, 1024)
    os.write(fd, b"y\n")
    while True:
        try:
            data = os.read(fd, 1024)
        except OSError:
            break
        if not data:
            break
        screen += data
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, screen
    assert f"{other} does not exist; create it? [y/N]".encode() in screen and other.is_dir()


def test_a_backend_whose_package_is_missing_is_a_warning_naming_the_extra(repo: Path, tmp_path: Path) -> None:
    # A teammate may have the package: the remote is added, and the missing extra named.
    blocker = tmp_path / "no-gcsfs"
    (blocker / "gcsfs").mkdir(parents=True)
    (blocker / "gcsfs" / "__init__.py").write_text("raise ImportError('gcsfs is not installed')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])}
    proc = datax("remote", "add", "gcs", "gs://acme/proj", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0] == ("git-datax: warning: gs:// needs a package that is not installed here "
                                           "(pip install 'gitdatax[gs]')")
    proc = datax("push", "gcs", env=env)
    assert proc.returncode == 1 and proc.stderr == (
        "git-datax: error: remote gs://acme/proj: gs:// needs a package that is not installed "
        "(pip install 'gitdatax[gs]')\n")
