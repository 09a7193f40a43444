"""A hostile `.datax.toml` corpus: each setting that would run a program or pick a credential,
under each URL scheme, and each URL that could be read as an ssh option or carries a password,
committed by a stranger and run through a teammate's `git clone`, `git datax fetch`, `git push`
and `git datax env`. Counted: commands run (a marker file the setting would create), connections
made to the addresses the file names (a listener on 127.0.0.1 that records each one),
passwords printed, tracebacks, and commands that did not refuse with one line naming the key.

    PYTHONPATH=. python3 benchmarks/hostile_team_file.py [--work DIR]
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from reliability_common import make_env, run  # noqa: E402


class Listener:
    """Accepts and counts connections on 127.0.0.1 (then closes them): anything the file made
    gitdatax send somewhere shows up here."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.count = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.count += 1
            conn.close()


class Entry(NamedTuple):
    name: str
    toml: str
    expect: str  # what the refusal line must name


def corpus(port: int, marker: Path) -> list[Entry]:
    schemes = {
        "ssh://": f"ssh://127.0.0.1:{port}/srv/data",
        "host:path": "127.0.0.1:srv/data",
        "s3://": "s3://bucket/prefix",
        "http://": f"http://127.0.0.1:{port}/info/lfs",
        "path": "../elsewhere",
    }
    keys = {
        "sshcommand": f'"touch {marker}; false"',
        "server_command": f'"touch {marker}; git-datax"',
        "profile": '"prod"',
        "create": "true",
        "exact_endpoint": "true",
        "credential_helper": f'"!touch {marker}"',
        "command": f'"touch {marker}"',
    }
    entries = []
    for scheme, url in schemes.items():
        extra = f'endpoint_url = "http://127.0.0.1:{port}"\n' if scheme == "s3://" else ""
        for key, value in keys.items():
            toml = f'[remote.team]\nurl = "{url}"\ndefault = true\n{extra}{key} = {value}\n'
            entries.append(Entry(f"{key} with {scheme}", toml, f"[remote.team] {key} may not be set"))
    for key, value in (("hookspath", f'"{marker.parent}"'), ("sshcommand", f'"touch {marker}"')):
        entries.append(Entry(f"[core] {key}", f"[core]\n{key} = {value}\n", f"[core] {key} may not be set"))
    hostile_urls = {
        "ssh host as an option": f"ssh://-oProxyCommand=touch%20{marker}/srv",
        "scp-style host as an option": "-oProxyCommand=touch PWNED:srv",  # no slash: ssh's form
        "ssh user as an option": "ssh://-lroot@127.0.0.1/srv",
        "scp-style path as an option": "127.0.0.1:-srv",
        "password in an https URL": f"https://user:s3cr3tPW@127.0.0.1:{port}/info/lfs",
        "password in an s3 URL": "s3://AKIAX:s3cr3tPW@bucket/p",
    }
    for name, url in hostile_urls.items():
        entries.append(Entry(name, f'[remote.team]\nurl = "{url}"\ndefault = true\n', "[remote.team] url"))
    return entries


class Result(NamedTuple):
    entry: Entry
    ran: bool
    connections: int
    password_shown: bool
    tracebacks: int
    not_refused: list[str]  # commands that did not say the one refusal line


def try_entry(entry: Entry, work: Path, author: Path, env: dict[str, str], listener: Listener,
              marker: Path, n: int) -> Result:
    (author / ".datax.toml").write_text(entry.toml)
    quiet = {"GIT_DATAX_SKIP_PUSH": "1"}
    run(["git", "-c", "core.hooksPath=/dev/null", "add", ".datax.toml"], author, env)
    run(["git", "-c", "core.hooksPath=/dev/null", "commit", "-qm", entry.name], author, env)
    bare = work / f"origin-{n}.git"
    run(["git", "init", "-q", "--bare", str(bare)], work, env)
    run(["git", "push", "-q", "--no-verify", str(bare), "HEAD:main"], author, env, extra=quiet)
    before = listener.count
    clone = work / f"clone-{n}"
    outputs, not_refused, tracebacks = [], [], 0
    proc = run(["git", "clone", "-q", str(bare), str(clone)], work, env, check=False, timeout=120)
    outputs.append(proc.stdout + proc.stderr)
    if entry.expect not in proc.stderr:
        not_refused.append("clone")
    for argv, name in ((["git", "datax", "fetch"], "fetch"), (["git", "push", "-q", "origin", "HEAD:other"], "push"),
                       (["git", "datax", "env"], "env")):
        if not clone.is_dir():
            not_refused.append(name)
            continue
        proc = run(argv, clone, env, check=False, timeout=120)
        text = proc.stdout + proc.stderr
        outputs.append(text)
        refused = entry.expect in text and (name == "env" or proc.returncode != 0)
        if not refused:
            not_refused.append(name)
    for text in outputs:
        tracebacks += text.count("Traceback")
    time.sleep(0.05)  # a connection in flight reaches the listener
    ran = marker.exists() or (clone / "PWNED").exists() or (work / "PWNED").exists()
    if marker.exists():
        marker.unlink()
    shutil.rmtree(clone, ignore_errors=True)
    shutil.rmtree(bare, ignore_errors=True)
    return Result(entry, ran, listener.count - before, any("s3cr3tPW" in t for t in outputs), tracebacks,
                  not_refused)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="datax-hostile-"))
    work.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    try:
        env = make_env(work / "home")
        listener = Listener()
        marker = work / "PWNED"
        author = work / "author"
        run(["git", "init", "-q", str(author)], work, env)
        run(["git", "datax", "install", "--local"], author, env)
        run(["git", "datax", "track", "*.bin"], author, env)
        (author / "m.bin").write_bytes(os.urandom(5000))
        run(["git", "add", ".gitattributes", "m.bin"], author, env)
        run(["git", "commit", "-qm", "data"], author, env)
        results = [try_entry(e, work, author, env, listener, marker, n)
                   for n, e in enumerate(corpus(listener.port, marker))]
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    bad = [r for r in results if r.ran or r.connections or r.password_shown or r.tracebacks or r.not_refused]
    print(f"hostile .datax.toml corpus: {len(results)} files x 4 commands (clone, fetch, push, env) "
          f"in {time.monotonic() - start:.0f} s")
    print("| files | commands run | commands executed by the file | connections to its addresses | "
          "passwords printed | tracebacks | commands that did not refuse |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {len(results)} | {4 * len(results)} | {sum(r.ran for r in results)} | "
          f"{sum(r.connections for r in results)} | {sum(r.password_shown for r in results)} | "
          f"{sum(r.tracebacks for r in results)} | {sum(len(r.not_refused) for r in results)} |")
    for r in bad:
        print(f"  {r.entry.name}: ran={r.ran} connections={r.connections} password={r.password_shown} "
              f"tracebacks={r.tracebacks} not refused by {', '.join(r.not_refused) or '-'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
