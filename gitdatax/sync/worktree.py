"""Bringing the work tree in line with the store (finding its stubs is scan/scanner.py).

- `fill_worktree`: files that hold a stub instead of their data (GitScanner.work_tree), filled
  in through `git checkout-index -u`, which smudges through our filter and refreshes the
  index entry, so `git status` stays clean without re-hashing the data.
- After a kill -9 (no chance to put anything back): the journal of the files being filled in
  and index entries that make git compare content instead of trusting stat data (see
  `_forget_stat`), so neither the next pull nor `git status` mistakes what was done.
- The "pending" mark: the filter process leaves it when it had to write a stub instead of data,
  so that the post-checkout hook costs nothing at all after a complete checkout. It also lists
  the objects the filter failed to download (each with when and why): the hook does not try
  those again at once, since the filter already spent the remote's tries on each (a stalled
  server would otherwise cost a checkout twice the wait).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

from gitdatax import git

from gitdatax.scan.commits import select
from gitdatax.scan.scanner import GitScanner, PathStub
from gitdatax.store.objectstore import ObjectStore
from gitdatax.files import write_atomically

PENDING_MARK = "pending-stubs"


# -- the work tree ---------------------------------------------------------------------------


def fill_worktree(top: Path, items: Sequence[PathStub]) -> None:
    """Replace the stubs of `items` with their data from the local store, through git so that
    the index's stat data is refreshed and `git status` stays clean. Should git fail (another
    git holds index.lock, a full disk, a kill), every file it did not fill in is a stub again."""
    if not items:
        return
    # checkout-index skips a file whose stat data matches the index, even with --force, and a
    # stub checked out by git does: move each stub's mtime back a second so git rewrites it.
    # Removing the stubs instead would lose them all when git cannot even start (index.lock).
    modes: dict[str, int] = {}
    for item in items:
        full = top / item.path
        try:
            st = os.stat(full)
            os.utime(full, ns=(st.st_atime_ns, st.st_mtime_ns - 1_000_000_000))
            modes[item.path] = st.st_mode
        except FileNotFoundError:
            pass
    _forget_stat(top, (i.path for i in items))  # a kill -9 from here on: `git status` compares content, see there
    env = {k: v for k, v in os.environ.items() if k != "GIT_DATAX_SKIP_SMUDGE"}
    payload = b"".join(i.path.encode("utf-8", "surrogateescape") + b"\0" for i in items)
    cmd = ["checkout-index", "--force", "--index", "-z", "--stdin"]
    journal = _filling_journal(top)
    _write_journal(journal, items)  # a kill -9 from here on: the next fill_in puts stubs back
    # Our filter, run by checkout-index, says on stderr what it could not fill; let that through.
    try:
        proc = _checkout_index(cmd, top, payload, env)
    except BaseException:
        # Stopped with us (Ctrl-C, SIGTERM): git was asked to stop too, and the file it was
        # writing is half there; every file not filled in is its stub again, as below.
        _put_back_stubs(top, items, modes)
        journal.unlink(missing_ok=True)
        raise
    if proc.returncode != 0:
        _put_back_stubs(top, items, modes)
        if proc.returncode < 0:
            import signal

            how = f"was killed by signal {signal.Signals(-proc.returncode).name}"
        else:
            how = f"exited {proc.returncode} (git said why above)"
        from gitdatax.errors import FatalError

        journal.unlink(missing_ok=True)
        raise FatalError(f"filling in {len(items)} file(s) failed: `git {' '.join(cmd)}` {how}; "
                         "the files not filled in are still stubs (`git datax pull` fills them in)")
    journal.unlink(missing_ok=True)


def _filling_journal(top: Path) -> Path:
    """<git dir>/datax/filling: the files being filled in, until git is done with them."""
    return git.repo_paths(top).git_dir / "datax" / "filling"


def _write_journal(journal: Path, items: Sequence[PathStub]) -> None:
    import json

    try:
        journal.parent.mkdir(parents=True, exist_ok=True)
        tmp = journal.with_name(f".filling.{os.getpid()}")
        tmp.write_text(json.dumps([[i.path, i.stub.oid, i.stub.size] for i in items]))
        os.replace(tmp, journal)
    except OSError:
        pass  # only a safety net for a kill -9


def recover_interrupted_fill(top: Path, store: ObjectStore) -> bool:
    """A fill killed with -9 (no chance to put stubs back) leaves the file git was writing
    deleted or short, which no later pull would see as a stub (found by
    benchmarks/fault_injection.py): put back the stub of each such file the journal names,
    unless the user has written something else there since. The index entries of the files git
    wrote still hold their stubs' stat data: forget it (a journal from before `_forget_stat`).
    True when some were, and the caller should refresh the index once the fill is done."""
    import json

    from gitdatax.stub import Stub

    journal = _filling_journal(top)
    try:
        entries = json.loads(journal.read_text())
        items = [PathStub(str(path), Stub(str(oid), int(size))) for path, oid, size in entries]
    except FileNotFoundError:
        return False
    except (OSError, ValueError, TypeError):
        items = []
    _put_back_stubs(top, items, {}, store)
    journaled = {i.path for i in items}
    changed = git.run(["diff-files", "--name-only", "-z"], cwd=top, check=False).stdout  # stat data only
    stale = [path for path in changed.decode("utf-8", "surrogateescape").split("\0") if path in journaled]
    _forget_stat(top, stale)
    journal.unlink(missing_ok=True)
    return bool(stale)


def _forget_stat(top: Path, paths: Iterable[str]) -> None:
    """Write these index entries again as they are (mode, blob, stage), which zeroes their stat
    data, so that git compares each file's content (through our clean filter) before it calls
    it modified. A stub's entry keeps the stub's size, and git takes a size change for a
    content change without reading the file (read-cache.c ie_modified re-reads only an entry of
    size 0): after a checkout-index killed with -9, which never writes the index, `git status`
    showed every file it had filled in as modified, and no later pull looked at them again.
    Best effort: should git refuse (index.lock), checkout-index will refuse too, and say so."""
    wanted = set(paths)
    if not wanted:
        return
    info = b"".join(f"{e.mode} {e.blob} {e.stage}\t".encode() + e.path.encode("utf-8", "surrogateescape") + b"\0"
                    for e in git.index_entries(cwd=top) if e.stage == 0 and e.path in wanted)
    if info:
        git.run(["update-index", "-z", "--index-info"], cwd=top, input=info, check=False)


def _checkout_index(cmd: list[str], top: Path, payload: bytes, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """Run git checkout-index; interrupted, it gets SIGTERM (git then removes its index.lock,
    which the SIGKILL of subprocess.run would leave behind), and the interruption goes on."""
    proc = subprocess.Popen(["git", *cmd], cwd=top, stdin=subprocess.PIPE, env=env)
    try:
        proc.communicate(payload)
    except BaseException:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode)


def _put_back_stubs(top: Path, items: Sequence[PathStub], modes: dict[str, int],
                    store: ObjectStore | None = None) -> None:
    """After git failed: write the stub back where git removed it, or left part of the data (it
    writes in place, so a git that dies mid-file leaves a short file). A file with its full
    size was filled in before git stopped. With `store` (long after the fact: the user may
    have written there since), a short file is put back only if it is the start of its data."""
    for item in items:
        full = top / item.path
        data = item.stub.encode()
        try:
            st = os.lstat(full)
            if st.st_size == item.stub.size or not os.path.isfile(full) or os.path.islink(full):
                continue
            if st.st_size == len(data):
                with open(full, "rb") as f:
                    if f.read() == data:
                        continue  # still the stub
            if store is not None and not _starts_data(full, store, item):
                continue  # someone else's bytes: theirs to keep (`git status` shows them)
        except FileNotFoundError:
            pass
        except OSError:
            continue
        try:
            write_atomically(full, data, mode=modes.get(item.path, 0o644) & 0o7777)
        except OSError:
            pass


def _starts_data(full: Path, store: ObjectStore, item: PathStub) -> bool:
    """Whether the file holds the first bytes of its object's content and nothing else (what
    git leaves of a file it was writing); False when the object cannot be read to tell."""
    from gitdatax.errors import CorruptObject, ObjectMissing

    try:
        with open(full, "rb") as f:
            for chunk in store.iter_content(item.stub):
                got = f.read(len(chunk))
                if got != chunk[:len(got)]:
                    return False
                if len(got) < len(chunk):
                    return True
    except (ObjectMissing, CorruptObject, OSError):
        return False
    return False  # as long as the data: not short (the caller has checked the size)


# -- the pending mark ------------------------------------------------------------------------


def pending_mark(store: ObjectStore) -> Path:
    """One mark per work tree: <store>/pending-stubs for the main one, <its git dir>/datax/
    pending-stubs for a linked worktree (`git worktree add`), whose stubs are its own; the hook
    scripts look at `$(git rev-parse --git-dir)/datax/pending-stubs`."""
    try:
        paths = git.repo_paths()
        if paths.git_dir != paths.common_dir:
            return paths.git_dir / "datax" / PENDING_MARK
    except Exception:  # noqa: BLE001 - only an optimisation for the hooks
        pass
    return store.root / PENDING_MARK


def mark_pending(store: ObjectStore) -> None:
    try:
        mark = pending_mark(store)
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.touch()
    except OSError:
        pass  # only an optimisation for the hooks; the next `git datax pull` still finds stubs


FRESH_FAILURE_SECONDS = 300  # a download that failed this recently is not tried again by a hook


def note_fetch_failure(store: ObjectStore, oid: str, why: str) -> None:
    """Mark pending, recording that the download of `oid` has just failed, and why."""
    import time

    try:
        mark = pending_mark(store)
        mark.parent.mkdir(parents=True, exist_ok=True)
        with open(mark, "a", encoding="utf-8", errors="replace") as f:
            f.write(f"fetch-failed {oid} {int(time.time())} {' '.join(why.split())}\n")
    except OSError:
        pass  # as mark_pending: the hook then only tries again


def recent_fetch_failures(store: ObjectStore, now: float | None = None) -> dict[str, str]:
    """oid -> why, for the downloads the mark records as failed in the last few minutes."""
    import time

    from gitdatax.stub import is_valid_oid

    now = time.time() if now is None else now
    try:
        text = pending_mark(store).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    failed = {}
    for line in text.splitlines():  # a line cut short by a crash is not one of these
        words = line.split(" ", 3)
        if len(words) == 4 and words[0] == "fetch-failed" and is_valid_oid(words[1]) and words[2].isdigit() \
                and 0 <= now - int(words[2]) <= FRESH_FAILURE_SECONDS:
            failed[words[1]] = words[3]
    return failed


def clear_pending(store: ObjectStore) -> None:
    try:
        pending_mark(store).unlink()
    except FileNotFoundError:
        pass


# -- filling in, with or without the network -------------------------------------------------


class FillReport(NamedTuple):
    filled: list[PathStub]
    missing: list[PathStub]  # still stubs: the object is in no store we could reach
    fetch_failures: dict[str, str]  # oid -> why the download failed
    remote_error: str | None  # the remote could not be opened at all
    unreadable: list[PathStub]  # still stubs though the object is local: corrupt (the filter said so)
    untracked: list[PathStub] = []  # stubs in paths no .gitattributes routes through gitdatax


def fill_in(top: Path, store: ObjectStore, *, remote_name: str | None = None, fetch: bool = True,
            include: Sequence[str] = (), exclude: Sequence[str] = (), quiet: bool = False,
            jobs: int | None = None, only_absent: bool = False, failed: dict[str, str] | None = None) -> FillReport:
    """Fill in every work tree stub (matching the patterns): objects the store lacks are first
    downloaded in one parallel batch (when `fetch`), then the files are checked out through git.
    `only_absent` leaves alone stubs whose object is already local (the filter just failed to
    use it, e.g. it is corrupt, and has said so: trying again would only say it twice).
    `failed` (oid -> why): downloads that have just failed, not tried again (still stubs)."""
    from gitdatax.errors import FatalError

    stale = recover_interrupted_fill(top, store)
    items = select(GitScanner(top).work_tree(as_staged=True), include, exclude)
    # A stub committed without its .gitattributes line (issue 11, item 2): git runs no filter
    # there, so checking it out again would only write the stub back. Say so; fetch nothing.
    untracked = untracked_among(top, items)
    if untracked:
        items = [i for i in items if i not in untracked]
    absent = [i for i in items if not store.has(i.stub.oid)]
    if only_absent:
        items = absent
    failures = {i.stub.oid: failed[i.stub.oid] for i in absent if failed and i.stub.oid in failed}
    remote_error = None
    absent = [i for i in absent if i.stub.oid not in failures]
    if absent and fetch:
        from gitdatax.remotes.fallback import open_for_download
        from gitdatax.sync import transfer

        try:
            remote = open_for_download(remote_name, cwd=top)
        except FatalError as exc:
            remote_error = str(exc)
        else:
            try:
                result = transfer.download_missing(remote, store, [i.stub for i in absent], jobs=jobs, quiet=quiet)
                failures.update(result.failed)
            finally:
                remote.close()
    ready = [i for i in items if store.has(i.stub.oid)]
    missing = [i for i in items if not store.has(i.stub.oid)]
    if not include and not exclude:
        clear_pending(store)  # the filter marks it again for any file it cannot fill in now
    try:
        fill_worktree(top, ready)
    except BaseException:
        mark_pending(store)  # stubs are left: the next checkout's hook tries again
        raise
    if stale:  # re-check, through the clean filter, the files a killed fill left (see _forget_stat)
        git.run(["update-index", "-q", "--refresh"], cwd=top, check=False)  # exit 1 just lists changes
    if missing:
        mark_pending(store)
    unreadable = [i for i in ready if _holds_stub(top, i)]
    filled = [i for i in ready if i not in unreadable] if unreadable else ready
    return FillReport(filled, missing, failures, remote_error, unreadable, untracked)


def untracked_among(top: Path, items: Sequence[PathStub]) -> list[PathStub]:
    """The items whose path the work tree's attributes do not route through gitdatax."""
    if not items:
        return []
    filters = git.check_attr("filter", (i.path for i in items), cwd=top)
    return [i for i in items if filters.get(i.path) != "datax"]


def untracked_stub_lines(items: Sequence[PathStub], limit: int = 20) -> list[str]:
    """What to tell a user whose clone holds stubs in paths gitdatax does not track."""
    import shlex

    lines = [f"{len(items)} file(s) hold a gitdatax stub, but no .gitattributes line tracks them (they were "
             "committed without `git add .gitattributes`), so git checks them out as stub text: run "
             f"`git datax track {' '.join(shlex.quote(i.path) for i in items[:3])}`, commit .gitattributes, "
             "then `git datax pull`"]
    lines += [f"  {i.path}: object {i.stub.oid}" for i in items[:limit]]
    if len(items) > limit:
        lines.append(f"  ... and {len(items) - limit} more")
    return lines


def _holds_stub(top: Path, item: PathStub) -> bool:
    """Whether the file is still its stub after git filled it in (a stat; a read when it has a
    stub's size)."""
    data = item.stub.encode()
    try:
        if os.lstat(top / item.path).st_size != len(data):
            return False
        with open(top / item.path, "rb") as f:
            return f.read(len(data) + 1) == data
    except OSError:
        return False


def cause_line(why: str, paths: Sequence[str], shown: int = 3) -> str:
    """`  why (N files: a, b, c and 1 more)`: one line for one cause."""
    paths = list(dict.fromkeys(paths))
    named = ", ".join(paths[:shown]) + (f" and {len(paths) - shown} more" if len(paths) > shown else "")
    return f"  {why} ({len(paths)} file(s): {named})"


def failure_lines(items: Sequence[PathStub], failed: dict[str, str], limit: int = 20) -> list[str]:
    """`  path: why` for each failed object (by every path that uses it), at most `limit`; a
    cause shared by several objects once, with the count and the first paths it affected."""
    from gitdatax.sync.transfer import shared_causes

    shared, single = shared_causes(failed)
    lines = []
    for why, oids in shared.items():
        those = set(oids)
        lines.append(cause_line(why, [i.path for i in items if i.stub.oid in those]))
    # dict: each (path, oid) once, though fetch lists HEAD's files and the index's alike
    lines += list({f"  {i.path}: {single[i.stub.oid]}": None for i in items if i.stub.oid in single})
    if len(lines) > limit:
        lines = lines[:limit] + [f"  ... and {len(lines) - limit} more"]
    return lines
