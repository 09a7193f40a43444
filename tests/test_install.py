"""`git datax install` / `uninstall`: config values, hooks, and a user's own hooks kept and chained."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from helpers import datax, git, git_bytes, random_bytes, stub_bytes, write

CONFIG = {
    "filter.datax.process": "git-datax filter-process",
    "filter.datax.clean": "git-datax clean -- %f",
    "filter.datax.smudge": "git-datax smudge -- %f",
    "filter.datax.required": "true",
    "merge.datax.name": "gitdatax: keep ours and report a conflict when both sides changed data",
    "merge.datax.driver": "git-datax merge-driver %O %A %B %P",
}
HOOKS = ("pre-commit", "pre-push", "post-checkout", "post-merge", "post-rewrite")


def datax_config(*scope: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> dict[str, str]:
    out = git("config", *scope, "--get-regexp", r"^(filter|merge)\.datax\.", check=False, cwd=cwd, env=env).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def user_hook(path: Path, name: str, log: Path, exit_code: int = 0) -> bytes:
    """A foreign hook that records its arguments and standard input, then exits `exit_code`."""
    text = (
        f"#!/bin/sh\n# the user's own {name} hook\n"
        f"echo \"{name} ran with [$*]\" >> '{log}'\n"
        f"cat >> '{log}'\n"
        f"exit {exit_code}\n"
    ).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text)
    os.chmod(path, 0o755)
    return text


def test_install_global_writes_the_documented_config(isolated_git: Path, tmp_path: Path) -> None:
    # The autouse fixture ran `git datax install --global` in an empty HOME.
    assert datax_config("--global") == CONFIG
    outside = tmp_path / "not a repo"
    outside.mkdir()
    git("config", "--global", "--remove-section", "filter.datax")
    proc = datax("install", cwd=outside)
    assert proc.returncode == 0
    assert proc.stderr == "gitdatax: filter and merge driver configured (global git config)\n"
    assert datax_config("--global") == CONFIG


def test_install_local_and_system(make_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo("r", hooks=False)
    proc = datax("install", "--local", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("gitdatax: filter and merge driver configured (local git config)\n")
    assert datax_config("--local", cwd=repo) == CONFIG
    system = tmp_path / "system.gitconfig"
    env = {"GIT_CONFIG_SYSTEM": str(system)}
    assert datax("install", "--system", "--skip-hooks", cwd=repo, env=env).returncode == 0
    assert datax_config("--system", cwd=repo, env=env) == CONFIG
    assert datax("uninstall", "--system", "--skip-hooks", cwd=repo, env=env).returncode == 0
    assert datax_config("--system", cwd=repo, env=env) == {}
    assert "datax" not in system.read_text()


def test_install_local_outside_a_repository_is_one_line_exit_1(tmp_path: Path) -> None:
    proc = datax("install", "--local", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == "git-datax: error: --local needs a repository: run it inside one\n"


def test_install_writes_every_client_hook(make_repo) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo("r", hooks=False)
    proc = datax("install", cwd=repo)
    assert proc.returncode == 0
    assert proc.stderr.splitlines()[1:] == [f"  hook {name}: installed" for name in HOOKS]
    for name in HOOKS:
        path = repo / ".git/hooks" / name
        assert path.stat().st_mode & stat.S_IXUSR
        text = path.read_text()
        assert text.startswith("#!/bin/sh\n# gitdatax-hook ")
        assert f'exec "$datax" hook {name} "$@"' in text and "datax=" in text
    again = datax("install", cwd=repo)
    assert again.stderr.splitlines()[1:] == [f"  hook {name}: updated" for name in HOOKS]
    assert not list((repo / ".git/hooks").glob("*.pre-datax"))


def test_existing_hook_is_kept_chained_and_still_runs(make_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo("r", hooks=False)
    log = tmp_path / "hook.log"
    theirs = user_hook(repo / ".git/hooks/pre-commit", "pre-commit", log)
    proc = datax("install", cwd=repo)
    assert "  hook pre-commit: installed; your existing hook was kept as pre-commit.pre-datax and runs first" in proc.stderr
    assert (repo / ".git/hooks/pre-commit.pre-datax").read_bytes() == theirs
    assert b"gitdatax-hook" in (repo / ".git/hooks/pre-commit").read_bytes()
    write(repo / "README", b"hello\n")
    git("add", "README", cwd=repo)
    git("commit", "-qm", "first", cwd=repo)
    assert log.read_text() == "pre-commit ran with []\n"
    # Installing again does not chain our own hook behind itself.
    datax("install", cwd=repo)
    assert (repo / ".git/hooks/pre-commit.pre-datax").read_bytes() == theirs


def test_a_failing_user_hook_still_stops_the_commit(make_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo("r", hooks=False)
    user_hook(repo / ".git/hooks/pre-commit", "pre-commit", tmp_path / "log", exit_code=3)
    datax("install", cwd=repo)
    write(repo / "README", b"hello\n")
    git("add", "README", cwd=repo)
    proc = git("commit", "-qm", "first", cwd=repo, check=False)
    assert proc.returncode == 1
    assert git("rev-parse", "-q", "--verify", "HEAD", cwd=repo, check=False).returncode != 0


def test_chained_hook_gets_arguments_and_standard_input(make_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo("r", hooks=False)
    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", str(bare))
    log = tmp_path / "push.log"
    user_hook(repo / ".git/hooks/pre-push", "pre-push", log)
    datax("install", cwd=repo)
    write(repo / "README", b"hello\n")
    git("add", "README", cwd=repo)
    git("commit", "-qm", "first", cwd=repo)
    git("remote", "add", "origin", str(bare), cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo)
    head = git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    assert log.read_text() == (
        f"pre-push ran with [origin {bare}]\n"
        f"refs/heads/main {head} refs/heads/main {'0' * 40}\n"
    )


def test_hooks_go_where_core_hookspath_points(make_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo("r", hooks=False)
    git("config", "core.hooksPath", "shared-hooks", cwd=repo)
    log = tmp_path / "hook.log"
    theirs = user_hook(repo / "shared-hooks/pre-commit", "pre-commit", log)
    proc = datax("install", cwd=repo)
    assert proc.returncode == 0
    assert (repo / "shared-hooks/pre-commit.pre-datax").read_bytes() == theirs
    for name in HOOKS:
        assert b"gitdatax-hook" in (repo / "shared-hooks" / name).read_bytes()
        assert not (repo / ".git/hooks" / name).exists()
    # Both run: the user's hook, then ours (which refuses a raw file over datax.maxgitsize).
    git("config", "datax.maxgitsize", "1k", cwd=repo)
    write(repo / "big.dat", random_bytes(2000, seed=1))
    git("add", "big.dat", cwd=repo)
    refused = git("commit", "-qm", "big", cwd=repo, check=False)
    assert refused.returncode == 1
    assert "big.dat: 2.0 KiB is over datax.maxgitsize" in refused.stderr
    assert log.read_text() == "pre-commit ran with []\n"
    # Uninstall puts the user's hook back in the same folder.
    proc = datax("uninstall", "--local", cwd=repo)
    assert "  hook pre-commit: removed; your previous hook is back in place" in proc.stderr
    assert (repo / "shared-hooks/pre-commit").read_bytes() == theirs
    assert sorted(os.listdir(repo / "shared-hooks")) == ["pre-commit"]


def test_uninstall_removes_only_what_install_wrote(make_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo("r", hooks=False)
    hooks = repo / ".git/hooks"
    theirs = user_hook(hooks / "post-checkout", "post-checkout", tmp_path / "log")
    foreign = user_hook(hooks / "commit-msg", "commit-msg", tmp_path / "log")
    samples = sorted(p.name for p in hooks.glob("*.sample"))
    datax("install", "--local", cwd=repo)
    git("config", "--local", "filter.datax.required", "false", cwd=repo)  # the user's own choice
    git("config", "--local", "datax.maxgitsize", "20MiB", cwd=repo)
    proc = datax("uninstall", "--local", cwd=repo)
    assert proc.returncode == 0
    assert proc.stderr.splitlines() == [
        "gitdatax: filter and merge driver removed (local git config)",
        "  hook pre-commit: removed",
        "  hook pre-push: removed",
        "  hook post-checkout: removed; your previous hook is back in place",
        "  hook post-merge: removed",
        "  hook post-rewrite: removed",
    ]
    assert (hooks / "post-checkout").read_bytes() == theirs
    assert (hooks / "post-checkout").stat().st_mode & stat.S_IXUSR
    assert (hooks / "commit-msg").read_bytes() == foreign
    assert sorted(p.name for p in hooks.iterdir()) == sorted([*samples, "post-checkout", "commit-msg"])
    # Only values gitdatax wrote are removed; a value the user changed, and other settings, stay.
    assert datax_config("--local", cwd=repo) == {"filter.datax.required": "false"}
    assert git("config", "--local", "datax.maxgitsize", cwd=repo).stdout == "20MiB\n"
    # The global install is untouched by a local uninstall.
    assert datax_config("--global", cwd=repo) == CONFIG


def test_install_refuses_to_overwrite_two_foreign_hooks(make_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo("r", hooks=False)
    hooks = repo / ".git/hooks"
    user_hook(hooks / "pre-commit", "pre-commit", tmp_path / "log")
    user_hook(hooks / "pre-commit.pre-datax", "older", tmp_path / "log")
    proc = datax("install", cwd=repo)
    assert proc.returncode == 1
    assert proc.stderr.endswith(
        f"git-datax: error: both {hooks / 'pre-commit'} and {hooks / 'pre-commit.pre-datax'} exist and "
        "neither was written by gitdatax; merge them into "
        f"{hooks / 'pre-commit.pre-datax'} and run the command again\n"
    )
    assert b"gitdatax-hook" not in (hooks / "pre-commit").read_bytes()


def test_plain_clone_gets_data_and_hooks_without_an_extra_command(data_repo: Path, tmp_path: Path) -> None:
    data = random_bytes(5000, seed=1)
    write(data_repo / "m.bin", data)
    git("add", "m.bin")
    git("commit", "-qm", "model")
    clone = tmp_path / "clone"
    # The data comes from the origin's store through a remote (issue 3); here we only check that
    # the filter ran and installed the hooks: GIT_DATAX_SKIP_SMUDGE keeps the clone offline.
    git("clone", "-q", str(data_repo), str(clone), env={"GIT_DATAX_SKIP_SMUDGE": "1"}, cwd=tmp_path)
    assert (clone / "m.bin").read_bytes() == stub_bytes(data)
    for name in HOOKS:
        assert b"gitdatax-hook" in (clone / ".git/hooks" / name).read_bytes()
    assert git_bytes("cat-file", "-p", "HEAD:m.bin", cwd=clone) == stub_bytes(data)


@pytest.mark.parametrize("command", ["install", "uninstall", "track", "untrack", "status", "ls-files", "env", "demo"])
def test_every_command_has_help(command: str, tmp_path: Path) -> None:
    proc = datax(command, "--help", cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.startswith(f"usage: git datax {command}")
    assert proc.stderr == ""


def test_hooks_call_the_installing_git_datax_and_the_filter_refreshes_stale_ones(repo: Path) -> None:
    """Hooks run the git-datax that wrote them (not a version manager's shim found on PATH),
    fall back to PATH when it is gone, and an out-of-date hook is rewritten by the filter."""
    hook = repo / ".git/hooks/pre-commit"
    text = hook.read_text()
    line = next(l for l in text.splitlines() if l.startswith("datax="))
    target = line.partition("=")[2].strip("'")
    assert target == "git-datax" or (os.path.isabs(target) and os.access(target, os.X_OK))
    hook.write_text(text.replace(line, "datax=/nonexistent/git-datax"))
    write(repo / "a.txt", b"hello\n")
    git("add", "a.txt")
    git("commit", "-qm", "falls back to git-datax on PATH")
    datax("track", "*.bin")
    write(repo / "m.bin", b"model bytes")
    git("add", "-A")  # runs the filter, which refreshes the stale hook
    assert "datax=/nonexistent/git-datax" not in hook.read_text()
    assert hook.read_text() == text


def test_git_datax_help_shows_a_man_page(repo: Path) -> None:
    """git turns `git datax --help` into `man git-datax`: install writes that page (from the
    same argparse help as `-h`), so the user gets help instead of "No manual entry"."""
    proc = git("datax", "--help", env={"MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "100"})
    assert "GIT-DATAX(1)" in proc.stdout
    assert "COMMANDS" in proc.stdout and "track" in proc.stdout and "git datax push" in proc.stdout
    assert "No manual entry" not in proc.stderr


def test_install_global_writes_its_man_page_where_git_datax_mandir_says(tmp_path: Path) -> None:
    """Issue 11, item 12: the suite ran as root wrote /usr/local/share/man/man1/git-datax.1."""
    mandir = tmp_path / "mine"
    proc = datax("install", "--global", env={"GIT_DATAX_MANDIR": str(mandir)}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (mandir / "man1" / "git-datax.1").read_text().startswith(".TH GIT\\-DATAX 1 ")
    assert [p.name for p in mandir.rglob("*")] == ["man1", "git-datax.1"]  # no temporary file left


def test_a_wrapper_installed_before_the_layout_move_still_runs_the_filter(make_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """pip's wrappers from before the move import gitdatax.main:main; with
    filter.datax.required=true a wrapper that failed to import would block every checkout."""
    import sys

    bin_dir = tmp_path / "oldbin"
    bin_dir.mkdir()
    wrapper = bin_dir / "git-datax"
    wrapper.write_text(f"#!{sys.executable}\nimport sys\nfrom gitdatax.main import main\n"
                       "if __name__ == '__main__':\n    sys.exit(main())\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    repo = make_repo("old")
    git("datax", "track", "*.bin", cwd=repo, env=env)
    (repo / "m.bin").write_bytes(b"model bytes\n" * 100)
    git("add", ".gitattributes", "m.bin", cwd=repo, env=env)
    git("commit", "-qm", "data", cwd=repo, env=env)
    assert git("cat-file", "-p", "HEAD:m.bin", cwd=repo).stdout.startswith("version gitdatax/1\n")
    (repo / "m.bin").unlink()
    git("checkout", "--", "m.bin", cwd=repo, env=env)
    assert (repo / "m.bin").read_bytes() == b"model bytes\n" * 100


def test_a_global_hookspath_is_never_written_by_the_filter_and_costs_nothing_without_data(
        make_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 11, item 11: the filter's automatic hook install wrote gitdatax's hooks into a global
    core.hooksPath (every repository's), and there they started Python in repositories that
    track no data."""
    author = make_repo("author")
    git("datax", "track", "*.bin", cwd=author)
    write(author / "m.bin", random_bytes(3000, seed=1))
    git("add", ".gitattributes", "m.bin", cwd=author)
    git("commit", "-qm", "data", cwd=author)
    shared = tmp_path / "global-hooks"
    shared.mkdir()
    git("config", "--global", "core.hooksPath", str(shared))
    clone = tmp_path / "clone"
    git("clone", "-q", str(author), str(clone))  # the filter runs here
    assert (clone / "m.bin").read_bytes() == random_bytes(3000, seed=1)
    assert list(shared.iterdir()) == []

    # Installed there on purpose, a hook of the user's chained: in a repository without data it
    # runs the user's hook and no Python at all.
    log = tmp_path / "hook.log"
    user_hook(shared / "pre-commit", "pre-commit", log)
    proc = datax("install", cwd=clone)
    assert proc.returncode == 0, proc.stderr
    plain = make_repo("plain", hooks=False)
    write(plain / "notes.txt", b"no data here\n")
    git("add", "notes.txt", cwd=plain)
    timing = {"PYTHONPROFILEIMPORTTIME": "1"}  # any Python started prints its imports on stderr
    git("init", "-q", "--bare", str(tmp_path / "plain.git"))
    for args in (("commit", "-qm", "notes"), ("checkout", "-q", "-b", "other"),
                 ("push", "-q", str(tmp_path / "plain.git"), "other")):
        proc = git(*args, cwd=plain, env=timing)
        assert "import time:" not in proc.stderr, args
    assert git("log", "--oneline", cwd=plain).stdout.count("\n") == 1
    assert log.read_text() == "pre-commit ran with []\n"  # the user's hook still ran
    # ... and in the clone, which has data, gitdatax's hooks do their work.
    write(clone / "n.bin", random_bytes(2000, seed=2))
    git(*("-c", "filter.datax.process=", "-c", "filter.datax.clean=", "-c", "filter.datax.required=false"),
        "add", "n.bin", cwd=clone)
    proc = git("commit", "-qm", "raw", cwd=clone, check=False)
    assert proc.returncode == 1 and "n.bin: staged as raw content" in proc.stderr, proc.stderr
