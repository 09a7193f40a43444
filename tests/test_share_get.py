"""`git datax get` and `list`: a file or folder at a revision of a team repository, without a
clone, over a path and with `git datax serve` (HTTP) as the data remote; and every bad input."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from datax_serve import serve  # noqa: F401 - the fixture
from sshd_server import sshd
from helpers import datax, git, make_writable, oid_of
from sharehelpers import V1, V2, files_under, make_team, team  # noqa: F401 - the fixture


def _entries(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def test_get_a_file_at_v1_fetches_only_its_commit_and_its_stub(tmp_path: Path, team: tuple[Path, Path]) -> None:
    server, _ = team
    dest = tmp_path / "deploy"
    dest.mkdir()
    result = datax("get", str(server), "models/asr.bin", "--rev", "v1", cwd=dest)
    assert result.returncode == 0, result.stderr
    assert (dest / "asr.bin").read_bytes() == V1["models/asr.bin"]
    assert _entries(dest) == ["asr.bin"]  # nothing left behind but OUT
    note = result.stderr.strip().splitlines()[-1]
    assert note.startswith(f"got {dest / 'asr.bin'} (293.0 KiB) from {server} at v1 (commit "), note
    # One blob (the stub): not v2's stub, nor docs/big.txt (200 KB that do not compress), nor
    # any other file of v1; and a handful of KiB of git objects in all.
    assert " 1 blob(s)" in note, note
    kib = float(re.search(r"object\(s\), ([\d.]+) KiB", note)[1])
    assert kib < 20, note
    assert f"from {server / 'datax'}" in note


def test_get_a_folder_with_plain_git_files_and_an_output_name(tmp_path: Path, team: tuple[Path, Path]) -> None:
    server, _ = team
    result = datax("get", str(server), "data/", "--rev", "v1", "-o", "clips-v1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    got = files_under(tmp_path / "clips-v1")
    assert got == {k[len("data/"):]: v for k, v in V1.items() if k.startswith("data/")}
    assert "c.bin" not in str(got)  # v2's clip is not at v1
    assert " 3 blob(s)" in result.stderr  # two stubs and labels.txt
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".datax-get")]


def test_get_without_rev_takes_head_and_into_an_existing_folder(tmp_path: Path, team: tuple[Path, Path]) -> None:
    server, _ = team
    (tmp_path / "models").mkdir()
    result = datax("get", f"file://{server}", "models/asr.bin", "-o", "models", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # -q: no closing line
    assert (tmp_path / "models" / "asr.bin").read_bytes() == V2["models/asr.bin"]


def test_get_over_http_from_git_datax_serve_named_in_the_team_file(tmp_path: Path, serve) -> None:  # noqa: F811
    store = tmp_path / "team.git" / "datax"  # the server's own store, served over HTTP
    server_http = serve(store)
    url = f"{server_http.url}/info/lfs"
    server, work = make_team(tmp_path, team_file=f'[remote.team]\nurl = "{url}"\ndefault = true\n')
    pushed = server_http.log.count("POST")
    assert pushed  # pre-push sent the data over HTTP
    result = datax("get", str(server), "models/asr.bin", "--rev", "v1", "-o", "asr-v1.bin", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "asr-v1.bin").read_bytes() == V1["models/asr.bin"]
    assert f"from {url}" in result.stderr
    assert server_http.log.count("POST") > pushed  # the LFS batch API answered the download
    assert "GET /objects/" in server_http.log or "GET" in server_http.log


def test_get_refuses_an_existing_output_unless_forced(tmp_path: Path, team: tuple[Path, Path]) -> None:
    server, _ = team
    (tmp_path / "asr.bin").write_bytes(b"mine")
    result = datax("get", str(server), "models/asr.bin", cwd=tmp_path)
    assert result.returncode == 1
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert (tmp_path / "asr.bin").read_bytes() == b"mine"
    forced = datax("get", str(server), "models/asr.bin", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "asr.bin").read_bytes() == V2["models/asr.bin"]


def test_a_folder_forced_over_a_file_and_an_output_inside_a_file(tmp_path: Path, team: tuple[Path, Path]) -> None:
    """`get data -o notes -f` where notes is a file replaces it by the folder, as `dvc get -f`
    does (a rename cannot put a folder over a file: it was an internal error); `-o notes/x`
    is one line, not a traceback."""
    server, _ = team
    notes = tmp_path / "notes"
    notes.write_bytes(b"mine")
    inside = datax("get", str(server), "models/asr.bin", "-o", "notes/asr.bin", cwd=tmp_path)
    assert inside.returncode == 1
    assert inside.stderr == f"git-datax: error: {notes} is a file, not a folder: {notes}/asr.bin cannot be written inside it\n"
    refused = datax("get", str(server), "data", "--rev", "v1", "-o", "notes", cwd=tmp_path)
    assert refused.returncode == 1 and notes.read_bytes() == b"mine"
    forced = datax("get", str(server), "data", "--rev", "v1", "-o", "notes", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert files_under(notes) == {k[len("data/"):]: v for k, v in V1.items() if k.startswith("data/")}
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".datax-get")]  # the file it replaced went too


def test_bad_inputs_say_one_line_and_leave_nothing(tmp_path: Path, team: tuple[Path, Path]) -> None:
    server, _ = team
    out = tmp_path / "out"
    out.mkdir()
    cases = [
        (["get", str(server), "models/nope.bin", "--rev", "v1"], "models/nope.bin is not in"),
        (["get", str(server), "models/asr.bin", "--rev", "v9"], "unknown revision 'v9'"),
        (["get", str(server), "models/asr.bin", "--rev", "0" * 40], "unknown revision"),
        (["get", str(tmp_path / "nowhere.git"), "models/asr.bin"], "cannot read the repository"),
        (["get", str(server), "../etc/passwd"], "not one above it"),
        (["list", str(server), "nope", "--rev", "v2"], "nope is not in"),
    ]
    for args, expected in cases:
        result = datax(*args, cwd=out)
        assert result.returncode == 1, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert os.listdir(out) == [], args


def test_an_object_no_remote_has_names_the_file_and_writes_nothing(tmp_path: Path, team: tuple[Path, Path]) -> None:
    server, _ = team
    oid = oid_of(V1["models/asr.bin"])
    obj = server / "datax" / "objects" / oid[:2] / oid[2:4] / oid
    make_writable(obj)
    obj.unlink()
    result = datax("get", str(server), "models", "--rev", "v1", cwd=tmp_path)
    assert result.returncode == 1
    assert f"cannot get models/asr.bin from {server} at v1: object {oid}" in result.stderr
    assert "nothing was written" in result.stderr
    assert not (tmp_path / "models").exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".datax-get")]


def test_an_unreachable_data_remote_is_one_line(tmp_path: Path, team: tuple[Path, Path]) -> None:
    server, work = team
    (work / ".datax.toml").write_text('[remote.team]\nurl = "http://127.0.0.1:9/info/lfs"\ndefault = true\n')
    git("add", ".datax.toml", cwd=work)
    git("commit", "-qm", "a remote that is down", cwd=work)
    git("push", "-q", "--no-verify", "origin", "HEAD:main", cwd=work)  # same objects: pre-receive accepts
    result = datax("get", str(server), "models/asr.bin", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "cannot get models/asr.bin" in result.stderr, result.stderr
    assert "127.0.0.1:9" in result.stderr
    assert not (tmp_path / "asr.bin").exists()


def test_list_shows_sizes_and_which_files_are_data(tmp_path: Path, team: tuple[Path, Path]) -> None:
    server, _ = team
    top = datax("list", str(server), "--rev", "v1")
    assert top.returncode == 0, top.stderr
    lines = top.stdout.splitlines()
    assert any(line.endswith("  data/") for line in lines), lines
    assert any(re.fullmatch(r"\s*7 B  git   README\.md", line) for line in lines), lines
    assert not any("docs" in line for line in lines)  # docs/ is v2's
    below = datax("list", str(server), "data", "-R", "--json", "--rev", "v1")
    records = {r["path"]: r for r in json.loads(below.stdout)}
    assert set(records) == {"clips/a.bin", "clips/b.bin", "labels.txt"}
    assert records["clips/a.bin"] == {"path": "clips/a.bin", "isdir": False, "isdata": True, "isexec": False,
                                      "size": 20_000, "oid": f"sha256:{oid_of(V1['data/clips/a.bin'])}"}
    assert records["labels.txt"]["isdata"] is False and records["labels.txt"]["size"] == 4
    one = datax("list", str(server), "models/asr.bin", "--json")
    assert json.loads(one.stdout)[0]["size"] == 300_000


def test_get_of_an_abbreviated_commit_resolves_it_in_the_history(tmp_path: Path, team: tuple[Path, Path]) -> None:
    server, work = team
    short = git("rev-parse", "--short", "v1", cwd=work).stdout.strip()
    result = datax("get", str(server), "models/asr.bin", "--rev", f"{short}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "asr.bin").read_bytes() == V1["models/asr.bin"]
    parent = datax("get", str(server), "models/asr.bin", "--rev", "v2~1", "-o", "p.bin", cwd=tmp_path)
    assert parent.returncode == 0, parent.stderr
    assert (tmp_path / "p.bin").read_bytes() == V1["models/asr.bin"]


def test_get_over_ssh_with_the_ssh_data_remote(tmp_path: Path, team: tuple[Path, Path],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """ssh://: git fetches through sshd (a plain upload-pack there: no filter, so the blobs of
    that one commit come, never its history's) and the data through `git-datax serve --stdio`."""
    server, _ = team
    with sshd(tmp_path / "sshd") as ssh:
        monkeypatch.setenv("GIT_SSH_COMMAND", ssh.ssh_command)
        url = f"ssh://{ssh.user}@127.0.0.1:{ssh.port}{server}"
        result = datax("get", url, "models/asr.bin", "--rev", "v1", "-o", "asr.bin", cwd=tmp_path)
        listed = datax("list", url, "data/clips", "--rev", "v1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "asr.bin").read_bytes() == V1["models/asr.bin"]
    assert f"in 1 object(s) from {url}" in result.stderr.strip().splitlines()[-1], result.stderr
    kib = float(re.search(r"object\(s\), ([\d.]+) KiB", result.stderr)[1])
    assert kib < 50, result.stderr  # not docs/big.txt of v2 (200 KB that do not compress)
    assert listed.returncode == 0 and "a.bin" in listed.stdout, listed.stderr
