"""The hooks that move data: pre-commit uploads, pre-push uploads or refuses, and post-checkout,
post-merge and post-rewrite fill in stubs. They run on every commit and checkout, so the case
with nothing to do must cost (almost) nothing: no remote is opened unless an object must move,
and the post-* hooks do no work at all unless the filter left the pending mark.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gitdatax import output

if TYPE_CHECKING:
    from gitdatax.stub import Stub


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false")


def skip_push() -> bool:
    return _env_flag("GIT_DATAX_SKIP_PUSH")


def pre_commit_upload(stubs: list[Stub]) -> int:
    """Upload the staged objects to the configured default remote. Never refuses the commit:
    offline is normal here, and pre-push tries again."""
    if skip_push():
        return 0
    from gitdatax.remotes import remote_config
    from gitdatax.errors import FatalError

    try:
        configured = remote_config.configured_default()
        if configured is None:
            return 0  # nothing configured (a default derived from origin waits for the push)
        if not stubs:
            return 0
        from gitdatax.sync import transfer
        from gitdatax.remotes import open_remote
        from gitdatax.store.objectstore import ObjectStore

        remote = open_remote(configured.url, configured.options)
        try:
            result = transfer.upload_missing(remote, ObjectStore.for_repo(), stubs)
        finally:
            remote.close()
    except FatalError as exc:
        output.warn(f"data not uploaded yet ({exc}); `git push` will upload it")
        return 0
    if result.failed:
        first = next(iter(result.failed.values()))
        output.warn(f"{len(result.failed)} object(s) not uploaded to {configured.name} yet ({first}); "
                    "`git push` will upload them")
    return 0


def pre_push(args: list[str], stdin: bytes) -> int:
    """Upload what the pushed commits need that the remote lacks; refuse the push, naming path,
    commit and oid, when an object is stored nowhere (or cannot be uploaded)."""
    if skip_push():
        return 0
    from gitdatax import git
    from gitdatax.remotes import remote_config
    from gitdatax.scan import commits, stub_journal
    from gitdatax.scan.scanner import GitScanner
    from gitdatax.sync import transfer
    from gitdatax.sync import worktree as sync
    from gitdatax.remotes import open_remote
    from gitdatax.store.objectstore import ObjectStore

    git_remote = args[0] if args else "origin"
    git_url = args[1] if len(args) > 1 else git_remote
    tips, exclude = [], []
    for line in stdin.decode("utf-8", "surrogateescape").splitlines():
        parts = line.split()
        if len(parts) != 4 or git.is_zero_oid(parts[1]):
            continue  # a deletion pushes no data
        tips.append(parts[1])
        if not git.is_zero_oid(parts[3]):
            exclude.append(parts[3])
    if not tips:
        return 0
    # What the remote already has: the commits it reported, and what we know of its refs.
    exclude_remote = git_remote if git_remote != git_url else None
    scanner = GitScanner()
    items = scanner.history(tips, exclude, exclude_remote=exclude_remote)
    # And whatever a checkout of each pushed tip needs, though its commit is on the Git remote
    # already: after the team switched its default store (a .datax.toml change), a merged
    # branch's data may be only in the old one (issue 11, item 5). The remote is asked in batches.
    seen = {(i.path, i.stub.oid) for i in items}
    for tip in dict.fromkeys(tips):
        for item in scanner.tree(tip):
            if (item.path, item.stub.oid) not in seen:
                seen.add((item.path, item.stub.oid))
                items.append(item)
    if not items:
        return 0
    configured = remote_config.for_git_remote(git_remote, git_url)
    remote = open_remote(configured.url, configured.options)
    try:
        result = transfer.upload_missing(remote, ObjectStore.for_repo(), [i.stub for i in items])
    finally:
        remote.close()
    if result.moved:
        output.info(f"gitdatax: uploaded {len(result.moved)} object(s) "
                    f"({output.human_size(result.bytes_moved)}) to {remote.url}")
    if not result.failed:
        return 0
    output.error(f"push refused: {len(result.failed)} object(s) the pushed commits need are not on {remote.url}")
    shared, single = transfer.shared_causes(result.failed)
    for why, oids in shared.items():
        wanted = set(oids)
        output.info(sync.cause_line(why, [i.path for i in items if i.stub.oid in wanted]))
    for oid, why in single.items():
        for item in [i for i in items if i.stub.oid == oid][:3]:
            blob = stub_journal.git_blob_id(item.stub.encode(), git.repo_paths().object_format)
            commit = commits.commit_introducing(blob, tips, exclude)
            output.info(f"  {item.path} (commit {commit[:12] if commit else '?'}): object {oid}: {why}")
    output.info("  bring the data from where it was committed (`git datax push` there), or push without "
                "it: GIT_DATAX_SKIP_PUSH=1 git push (others will get stubs)")
    return 1


def post_checkout_like(args: list[str], stdin: bytes) -> int:
    """post-checkout, post-merge, post-rewrite: fetch in one batch what the work tree still lacks
    and fill in its stubs. Does nothing unless the filter left stubs behind (the pending mark)."""
    from gitdatax.filter.smudge import skip_smudge

    if skip_smudge():
        return 0
    from gitdatax import git
    from gitdatax.sync import worktree as sync
    from gitdatax.errors import FatalError
    from gitdatax.store.objectstore import ObjectStore

    store = ObjectStore.for_repo()
    if not sync.pending_mark(store).exists():
        return 0
    top = git.repo_paths().toplevel
    if top is None:
        return 0
    try:  # what the filter failed to download a moment ago has had its tries: not again
        report = sync.fill_in(top, store, only_absent=True, failed=sync.recent_fetch_failures(store))
    except FatalError as exc:
        output.warn(f"cannot fill in the data files: {exc}")
        return 0
    # The filter has already named each file it could not fill in; add one line at most.
    if report.filled:
        output.info(f"gitdatax: fetched and filled in {len(report.filled)} file(s) the checkout left as stubs")
    if report.missing and report.remote_error is None:
        first = next(iter(report.fetch_failures.values()), "not on the remote")
        output.warn(f"{len(report.missing)} file(s) are still stubs ({first}); "
                    "`git datax pull` tries again, `git datax status` lists them")
    return 0
