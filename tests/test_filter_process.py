"""The long-running filter process, spoken to byte for byte, and driven by real git."""
from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Iterable

import pytest

from gitdatax.filter import pktline
from helpers import git, git_bytes, make_writable, object_path, oid_of, random_bytes, stub_bytes, write


class FilterClient:
    """Plays git's side of the long-running filter protocol against `git-datax filter-process`."""

    def __init__(self, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            ["git-datax", "filter-process"], cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env={**os.environ, **(env or {})},
        )
        assert self.proc.stdin and self.proc.stdout
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout

    def handshake(self, capabilities: Iterable[str] = ("clean", "smudge", "delay")) -> list[str]:
        pktline.write_text_list(self.stdin, ["git-filter-client", "version=2"])
        pktline.write_text_list(self.stdin, [f"capability={c}" for c in capabilities])
        self.stdin.flush()
        assert pktline.read_text_list(self.stdout) == ["git-filter-server", "version=2"]
        return pktline.read_text_list(self.stdout)

    def request(self, command: str, pathname: str, content: bytes) -> tuple[list[str], bytes | None]:
        """(status lines, content or None when the filter answered with an error)."""
        pktline.write_text_list(self.stdin, [f"command={command}", f"pathname={pathname}"])
        pktline.write_content(self.stdin, iter([content]))
        self.stdin.flush()
        status = pktline.read_text_list(self.stdout)
        if status != ["status=success"]:
            return status, None
        data = b"".join(pktline.iter_content(self.stdout))
        assert pktline.read_text_list(self.stdout) == []  # the final (empty) status list
        return status, data

    def close(self) -> tuple[int, str]:
        self.stdin.close()
        rc = self.proc.wait(timeout=30)
        assert self.proc.stderr
        return rc, self.proc.stderr.read().decode()


@pytest.fixture
def client(repo: Path):  # type: ignore[no-untyped-def]
    c = FilterClient(repo)
    assert c.handshake() == ["capability=clean", "capability=smudge", "capability=delay"]
    yield c
    if c.proc.poll() is None:
        c.proc.kill()
        c.proc.wait()


def test_handshake_answers_only_capabilities_git_offered(repo: Path) -> None:
    c = FilterClient(repo)
    assert c.handshake(["clean"]) == ["capability=clean"]
    assert c.close() == (0, "")


def test_clean_then_smudge_round_trip(client: FilterClient, repo: Path) -> None:
    data = random_bytes(200_000, seed=1)  # several packets each way
    assert client.request("clean", "models/m.bin", data) == (["status=success"], stub_bytes(data))
    # (the object may still be on its way to the store: the smudge waits for it)
    assert client.request("smudge", "models/m.bin", stub_bytes(data)) == (["status=success"], data)
    assert object_path(repo, oid_of(data)).is_file()
    assert client.close() == (0, "")


def test_clean_is_idempotent_and_leaves_empty_files_empty(client: FilterClient) -> None:
    stub = stub_bytes(b"whatever")
    assert client.request("clean", "a.bin", stub) == (["status=success"], stub)
    assert client.request("clean", "empty.bin", b"") == (["status=success"], b"")
    assert client.request("smudge", "empty.bin", b"") == (["status=success"], b"")
    assert client.close()[0] == 0


@pytest.mark.parametrize("size", [1023, 1024, 1025, 70000])
def test_smudge_passes_content_that_is_not_a_stub_through(client: FilterClient, size: int) -> None:
    # A blob committed before its path was tracked is content: checked out as it is.
    data = (b"version gitdatax/1\n" + b"z" * size)[:size]
    assert client.request("smudge", "old.bin", data) == (["status=success"], data)
    assert client.close()[0] == 0


def test_unknown_command_fails_that_request_only(client: FilterClient) -> None:
    assert client.request("frobnicate", "a.bin", b"abc") == (["status=error"], None)
    assert client.request("clean", "a.bin", b"abc") == (["status=success"], stub_bytes(b"abc"))
    assert client.close()[0] == 0


def test_one_file_that_cannot_be_stored_fails_alone(client: FilterClient, repo: Path) -> None:
    bad = b"this one lands in a broken fan-out directory"
    oid = oid_of(bad)
    fanout = repo / ".git/datax/objects" / oid[:2]
    fanout.parent.mkdir(parents=True, exist_ok=True)
    fanout.write_text("a file where a directory should be")
    assert client.request("clean", "bad.bin", bad) == (["status=error"], None)
    good = b"this one is fine"
    assert oid_of(good)[:2] != oid[:2]
    assert client.request("clean", "good.bin", good) == (["status=success"], stub_bytes(good))
    rc, err = client.close()
    assert rc == 0
    assert err.startswith("git-datax: cannot store bad.bin: NotADirectoryError: ")
    assert err.count("\n") == 1


def _wait_for(path: Path, timeout: float = 10.0) -> None:
    """Until `path` exists and holds a whole line."""
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_bytes().endswith(b"\n")):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def _limit_file_size(client: FilterClient) -> None:
    """Writes over 16 KiB fail in the running filter (RLIMIT_FSIZE: EFBIG, root or not; Python
    ignores SIGXFSZ), while the small files it keeps beside objects still get written."""
    subprocess.run(["prlimit", "--pid", str(client.proc.pid), f"--fsize={16 << 10}"], check=True)


def test_a_write_that_fails_after_the_answer_is_reported_and_fails_the_next_file(
    client: FilterClient, repo: Path
) -> None:
    # Small objects are written after git has its stub (background_writer.py). A write that
    # fails then (here: a file size limit below the object's size) is reported with the path,
    # recorded in <store>/unstored, and the next clean fails, so that the `git add` fails.
    store = repo / ".git/datax"
    first = random_bytes(64 << 10, seed=31)  # answered before its write failed
    _limit_file_size(client)
    assert client.request("clean", "first.bin", first) == (["status=success"], stub_bytes(first))
    _wait_for(store / "unstored")
    assert (store / "unstored").read_text() == f"{oid_of(first)} first.bin\n"
    assert client.request("clean", "second.bin", b"innocent") == (["status=error"], None)
    rc, err = client.close()
    assert rc == 0
    assert not object_path(repo, oid_of(first)).exists()
    assert err.startswith("git-datax: cannot store first.bin: [Errno 27] File too large")
    assert err.endswith(
        "; git was given its stub, so commit is refused until you fix this and run "
        "`git add --renormalize -- first.bin`\n"
    )
    assert err.count("\n") == 1


def test_a_write_failing_on_the_last_file_is_reported_when_git_hangs_up(client: FilterClient, repo: Path) -> None:
    data = random_bytes(64 << 10, seed=32)  # the last file git sends
    _limit_file_size(client)
    assert client.request("clean", "last.bin", data) == (["status=success"], stub_bytes(data))
    rc, err = client.close()
    assert rc == 0
    assert err.startswith("git-datax: cannot store last.bin: [Errno 27] File too large")
    assert (repo / ".git/datax/unstored").read_text() == f"{oid_of(data)} last.bin\n"


def test_smudge_of_a_missing_object_answers_the_stub(client: FilterClient) -> None:
    stub = stub_bytes(b"not in this store")
    assert client.request("smudge", "data/x.csv", stub) == (["status=success"], stub)
    rc, err = client.close()
    assert rc == 0
    assert err == (
        f"git-datax: data/x.csv: object {oid_of(b'not in this store')} is not in the local store; "
        "the stub was checked out (run `git datax pull` to fill it in)\n"
    )


def test_skip_smudge_checks_out_stubs(repo: Path) -> None:
    c = FilterClient(repo, env={"GIT_DATAX_SKIP_SMUDGE": "1"})
    c.handshake()
    stub = c.request("clean", "a.bin", b"abc")[1]
    assert c.request("smudge", "a.bin", stub or b"") == (["status=success"], stub_bytes(b"abc"))
    assert c.close() == (0, "")


def test_broken_handshake_is_one_line_and_exit_1(repo: Path) -> None:
    proc = subprocess.run(["git-datax", "filter-process"], input=b"0013git-filter-cli\n0000", capture_output=True)
    assert proc.returncode == 1
    assert proc.stderr.decode().startswith("git-datax: error: filter protocol error: unexpected filter handshake")
    assert proc.stderr.count(b"\n") == 1


def test_a_pipe_closed_before_the_handshake_is_one_line_and_exit_1(repo: Path) -> None:
    proc = subprocess.run(["git-datax", "filter-process"], input=b"", capture_output=True)
    assert proc.returncode == 1
    assert proc.stderr == (
        b"git-datax: error: filter protocol error: the other side closed the pipe during the handshake\n"
    )
    assert not (repo / ".git/datax/logs").exists()


def test_one_shot_clean_and_smudge_without_the_process(data_repo: Path, tmp_path: Path) -> None:
    """Git calls `git-datax clean/smudge -- %f` when no filter.datax.process is configured
    (an empty value does not unset it, so use a global config without it)."""
    one_shot = tmp_path / "one-shot.gitconfig"
    git("config", "-f", str(one_shot), "filter.datax.clean", "git-datax clean -- %f")
    git("config", "-f", str(one_shot), "filter.datax.smudge", "git-datax smudge -- %f")
    git("config", "-f", str(one_shot), "filter.datax.required", "true")
    trace = tmp_path / "trace"
    env = {"GIT_CONFIG_GLOBAL": str(one_shot), "GIT_TRACE": str(trace)}
    data = random_bytes(5000, seed=7)
    write(data_repo / "one shot.bin", data)
    git("add", "one shot.bin", env=env)
    assert git_bytes("cat-file", "-p", ":one shot.bin") == stub_bytes(data)
    (data_repo / "one shot.bin").unlink()
    git("checkout", "--", "one shot.bin", env=env)
    assert (data_repo / "one shot.bin").read_bytes() == data
    starts = count_filter_starts(trace)
    assert starts["process"] == 0 and starts["one-shot"] >= 2
    text = trace.read_text()
    assert "git-datax clean -- " in text and "git-datax smudge -- " in text
    # A missing object: the one-shot smudge also leaves the stub and says why.
    missing = stub_bytes(b"elsewhere")
    proc = subprocess.run(["git-datax", "smudge", "--", "x.bin"], input=missing, capture_output=True)
    assert (proc.returncode, proc.stdout) == (0, missing)
    assert proc.stderr.decode() == (
        f"git-datax: x.bin: object {oid_of(b'elsewhere')} is not in the local store; "
        "the stub was checked out (run `git datax pull` to fill it in)\n"
    )


def count_filter_starts(trace: Path) -> dict[str, int]:
    text = trace.read_text(errors="replace")
    return {
        "process": len(re.findall(r"run_command: 'git-datax filter-process'", text)),
        "one-shot": len(re.findall(r"run_command: .*git-datax (?:clean|smudge)", text)),
        "clean requests": text.count("git> command=clean"),
        "smudge requests": text.count("git> command=smudge"),
    }


def test_one_filter_process_serves_2000_files(data_repo: Path) -> None:
    clips = data_repo / "clips"
    clips.mkdir()
    contents = {f"clips/c{i:04d}.bin": b"clip %d\n" % i * (1 + i % 7) for i in range(2000)}
    for path, data in contents.items():
        (data_repo / path).write_bytes(data)
    trace = data_repo.parent / "trace-add"
    env = {"GIT_TRACE": str(trace), "GIT_TRACE_PACKET": str(trace)}
    git("add", "clips", env=env)
    assert count_filter_starts(trace) == {"process": 1, "one-shot": 0, "clean requests": 2000, "smudge requests": 0}
    git("commit", "-qm", "2000 clips")
    assert git_bytes("cat-file", "-p", "HEAD:clips/c1234.bin") == stub_bytes(contents["clips/c1234.bin"])

    git("rm", "-rq", "clips")
    git("commit", "-qm", "no clips")
    trace = data_repo.parent / "trace-checkout"
    git("checkout", "-q", "HEAD~1", env={"GIT_TRACE": str(trace), "GIT_TRACE_PACKET": str(trace)})
    assert count_filter_starts(trace) == {"process": 1, "one-shot": 0, "clean requests": 0, "smudge requests": 2000}
    for path, data in contents.items():
        assert (data_repo / path).read_bytes() == data, path
    assert git("status", "--porcelain").stdout == ""


def test_corrupt_object_fails_that_file_only_in_a_checkout(data_repo: Path) -> None:
    good, bad = random_bytes(3000, seed=1), random_bytes(3000, seed=2)
    write(data_repo / "good.bin", good)
    write(data_repo / "bad.bin", bad)
    git("add", "-A")
    git("commit", "-qm", "two")
    path = object_path(data_repo, oid_of(bad))
    make_writable(path)
    raw = bytearray(path.read_bytes())
    raw[-6] ^= 0xFF
    path.write_bytes(bytes(raw))
    (data_repo / "good.bin").unlink()
    (data_repo / "bad.bin").unlink()
    proc = git("checkout", "--", ".")
    assert (data_repo / "good.bin").read_bytes() == good
    assert (data_repo / "bad.bin").read_bytes() == stub_bytes(bad)
    assert proc.stderr.startswith(f"git-datax: bad.bin: object {oid_of(bad)} is corrupt in the store (")
    assert proc.stderr.endswith("; the stub was checked out instead\n")
