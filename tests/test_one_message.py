"""One cause, one message, and the message says the cause (issue 16 item 6). The missing bucket
once for all files: tests/test_sync_s3.py and test_sync_fsspec.py; rejected credentials:
tests/test_remote_lfs_http.py; a bad team value naming .datax.toml: tests/test_errors.py."""
from __future__ import annotations

from pathlib import Path

from helpers import datax, git
from synchelpers import FILES, clone, fresh_home, make_team_repo, server_object


def test_remote_list_says_derived_from_origin_once(tmp_path: Path) -> None:
    server, work = make_team_repo(tmp_path)
    proc = datax("remote", "list", "-v", cwd=work)
    assert proc.stdout.splitlines() == [f"origin  {server}/datax  (default)",
                                        "          derived from git remote origin",
                                        "          create = True"]


def test_after_a_failed_pull_the_advice_is_what_to_fix(tmp_path: Path) -> None:
    import hashlib

    server, work = make_team_repo(tmp_path)
    git("push", "-q", "origin", "main", cwd=work)
    lost = hashlib.sha256(FILES["models/asr.bin"]).hexdigest()
    server_object(server, lost).unlink()
    env = fresh_home(tmp_path, "home2")
    dest = tmp_path / "teammate"
    clone(server, dest, {**env, "GIT_DATAX_SKIP_SMUDGE": "1"})
    proc = datax("pull", cwd=dest, env=env)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0] == f"gitdatax: 3 object(s) downloaded (262.6 KiB) from {server}/datax"
    assert f"  models/asr.bin: object {lost} is not on {server}/datax" in lines
    assert lines[-2:] == [
        "git-datax: error: 1 file(s) are still stubs: their objects are not in the local store (the download "
        "failed, for the reasons above: an object the remote lacks must be pushed from the clone that has it "
        "(`git datax push` there))",
        f"  models/asr.bin: object {lost}"]
    assert "`git datax pull` downloads them" not in proc.stderr
