"""The command line at the edges a newcomer hits: misspelled commands and options, the wrong
kind of repository, bad URLs and patterns. Each is one line on stderr and exit 1, never a
traceback, and says what to do."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from helpers import datax, git, write


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("git-datax: error: "), proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    return proc.stderr[len("git-datax: error: "):-1]


def test_a_misspelled_command_suggests_the_closest_one_and_hides_internal_ones(repo: Path) -> None:
    message = one_line_error(datax("stauts"))
    assert message == "unknown command 'stauts': did you mean `git datax status`? (see `git datax --help`)"
    message = one_line_error(datax("frobnicate"))
    assert message.startswith("unknown command 'frobnicate': one of install, uninstall, track,")
    assert "filter-process" not in message and "smudge" not in message
    assert one_line_error(datax("remote", "ad", "x", "/tmp")) == (
        "unknown command 'ad': did you mean `git datax remote add`? (see `git datax remote --help`)")


def test_an_unknown_option_points_to_the_help_of_its_command(repo: Path) -> None:
    assert one_line_error(datax("status", "--bogus")) == "unrecognized arguments: --bogus (see `git datax status --help`)"
    assert one_line_error(datax("remote", "add", "a", "/tmp", "extra")) == (
        "unrecognized arguments: extra (see `git datax remote add --help`)")
    assert one_line_error(datax("status", "-a", "--bogus", cwd="/")) == (
        "unrecognized arguments: --bogus (see `git datax status --help`)")


def test_an_object_missing_on_the_remote_too_is_named_once_in_plain_words(data_repo: Path, tmp_path: Path) -> None:
    from helpers import make_writable, object_path, oid_of

    empty = tmp_path / "store"
    empty.mkdir()
    assert datax("remote", "add", "--local", "nas", str(empty), "--default").returncode == 0
    write(data_repo / "a.bin", b"model weights")
    git("add", "a.bin")
    git("commit", "-qm", "a", env={"GIT_DATAX_SKIP_PUSH": "1"})
    oid = oid_of(b"model weights")
    make_writable(object_path(data_repo, oid))
    object_path(data_repo, oid).unlink()
    (data_repo / "a.bin").unlink()
    proc = git("checkout", "--", "a.bin")
    assert f"a.bin: cannot fetch object {oid}: object {oid} is not on remote {empty}; " \
           "the stub was checked out instead\n" in proc.stderr


@pytest.mark.parametrize("url, message", [
    ("s3://", "remote s3://: no bucket in the URL (s3://BUCKET/PREFIX)"),
    ("http://", "remote http://: no host in the URL"),
    ("https:///org/repo", "remote https:///org/repo: no host in the URL"),
    ("file://", "remote file://: no path in the URL"),
    ("ssh://", "remote ssh://: no host in the URL"),
    ("host:", "remote host:: no path in the URL"),
])
def test_remote_add_refuses_a_url_no_backend_can_use(repo: Path, url: str, message: str) -> None:
    assert one_line_error(datax("remote", "add", "team", url)) == message
    assert one_line_error(datax("remote", "add", "--local", "team", url)) == message
    assert not (repo / ".datax.toml").exists()
    assert git("config", "--local", "--get-regexp", "^datax\\.", check=False).stdout == ""


@pytest.mark.parametrize("url, message", [
    ("file://", "remote file://: no path in the URL"),
    ("http://", "remote http://: no host in the URL"),
])
def test_a_url_without_a_place_given_to_push_is_refused_before_any_write(data_repo: Path, url: str, message: str) -> None:
    write(data_repo / "a.bin", b"weights")
    git("add", "a.bin")
    git("commit", "-qm", "a")
    assert one_line_error(datax("push", url)) == message
    assert sorted(p.name for p in data_repo.iterdir()) == [".git", ".gitattributes", "a.bin"]


@pytest.mark.parametrize("command", [["fetch"], ["fetch", "--all"], ["pull"], ["checkout"], ["push"], ["gc", "-n"]])
def test_sync_commands_outside_a_repository(tmp_path: Path, command: list[str]) -> None:
    proc = datax(*command, cwd=tmp_path)
    assert one_line_error(proc) == "not in a git repository (run this inside a work tree)"


def test_uninstall_local_outside_a_repository_says_so_as_install_does(tmp_path: Path) -> None:
    assert one_line_error(datax("install", "--local", cwd=tmp_path)) == "--local needs a repository: run it inside one"
    assert one_line_error(datax("uninstall", "--local", cwd=tmp_path)) == "--local needs a repository: run it inside one"


@pytest.mark.parametrize("command", [["track", "*.bin"], ["untrack", "*.bin"], ["status"], ["checkout"], ["pull"],
                                     ["remote", "add", "nas", "/srv/nas"]])
def test_work_tree_commands_in_a_bare_repository_say_it_is_bare(tmp_path: Path, command: list[str]) -> None:
    bare = tmp_path / "proj.git"
    git("init", "-q", "--bare", str(bare))
    assert one_line_error(datax(*command, cwd=bare)) == (
        f"{bare} is a bare repository: this command needs a work tree (run it in a clone)")
    assert one_line_error(datax(*command, cwd=tmp_path / "proj.git" / "refs")) == (
        f"{bare} is a bare repository: this command needs a work tree (run it in a clone)")


def test_work_tree_commands_inside_the_git_directory(repo: Path) -> None:
    assert one_line_error(datax("status", cwd=repo / ".git")) == (
        f"not in the work tree: run this in {repo}, not inside its git directory")


def test_ls_files_of_a_revision_that_does_not_exist(repo: Path) -> None:
    assert one_line_error(datax("ls-files", "--rev", "HEAD")) == "--rev HEAD: no such commit"
    git("commit", "-q", "--allow-empty", "-m", "first")
    assert one_line_error(datax("ls-files", "--rev", "v9")) == "--rev v9: no such commit"
    assert datax("ls-files", "--rev", "HEAD").returncode == 0


@pytest.mark.parametrize("pattern, message", [
    ("!*.csv", "!*.csv: .gitattributes has no negative patterns (git ignores the line): "
               "name only the files to store"),
])
def test_track_refuses_a_pattern_that_would_match_nothing(repo: Path, pattern: str, message: str) -> None:
    write(repo / "data" / "train.csv", b"a,b\n")
    assert one_line_error(datax("track", "*.bin", pattern)) == message
    assert not (repo / ".gitattributes").exists()


def test_track_quotes_a_pattern_that_starts_like_a_comment(repo: Path) -> None:
    assert datax("track", "#1.bin").returncode == 0
    assert (repo / ".gitattributes").read_text() == '"#1.bin" filter=datax diff=datax merge=datax -text\n'
    assert git("check-attr", "filter", "--", "#1.bin").stdout == "#1.bin: filter: datax\n"
    assert datax("track").stdout == "#1.bin    (.gitattributes)\n"
    assert datax("track", "#1.bin").stderr == "#1.bin is already tracked\n"


def test_urls_are_shown_without_their_query_and_a_password_is_kept_out_of_the_team_file(repo: Path) -> None:
    proc = datax("remote", "add", "lfs", "https://host.example/org/proj?token=s3cret")
    assert proc.returncode == 0
    listing = datax("remote", "list", "-v").stdout + datax("env").stdout + proc.stderr
    assert "https://host.example/org/proj" in listing
    assert "s3cret" not in listing
    assert one_line_error(datax("remote", "add", "t2", "https://bob:s3cret@host.example/x")) == (
        "remote t2: the URL holds a password, and .datax.toml is committed for the whole team to read: "
        "add the remote with --local, or leave the password to git's credential helper")
    assert "t2" not in (repo / ".datax.toml").read_text()
    proc = datax("remote", "add", "--local", "t2", "https://bob:s3cret@host.example/x")
    assert proc.returncode == 0
    assert "s3cret" not in proc.stderr + datax("remote", "list").stdout


def test_the_man_page_documents_the_options_of_every_subcommand() -> None:
    from gitdatax.cli import manpage
    from gitdatax.cli.main import build_parser

    page = manpage.render(build_parser())
    for section, option in [("remote add", "endpoint\\-url"), ("remote list", "\\-\\-verbose"),
                            ("remote remove", "\\-\\-local"), ("remote set\\-default", "\\-\\-local"),
                            ("migrate import", "\\-\\-include"), ("migrate from\\-lfs", "\\-\\-rewrite\\-history"),
                            ("migrate info", "\\-\\-top")]:
        assert f"\n.SS {section}\n" in page, section
        text = page.split(f"\n.SS {section}\n", 1)[1].split("\n.SS ", 1)[0]
        assert option in text, (section, option)
    assert "filter\\-process" not in page.split(".SH COMMANDS", 1)[1]


def test_untrack_says_how_to_put_the_content_back_into_git(data_repo: Path) -> None:
    write(data_repo / "a.bin", b"model weights")
    git("add", "a.bin")
    git("commit", "-qm", "a")
    proc = datax("untrack", "*.bin")
    assert (proc.returncode, proc.stdout) == (0, "")
    assert proc.stderr == (
        "untracking *.bin\n"
        "run `git add --renormalize .` and commit it with .gitattributes: until then the files it matched stay "
        "stubs in Git, and a checkout gives their stub text\n")
    git("add", "--renormalize", ".")
    git("commit", "-qm", "untrack")
    assert git("cat-file", "-p", "HEAD:a.bin").stdout == "model weights"


def test_ls_files_lists_the_same_paths_from_a_subdirectory_with_or_without_rev(data_repo: Path) -> None:
    write(data_repo / "data" / "x.csv", b"a,b\n")
    write(data_repo / "top.bin", b"weights")
    git("add", "-A")
    git("commit", "-qm", "data")
    at_top = datax("ls-files").stdout
    assert [line.split()[-1] for line in at_top.splitlines()] == ["data/x.csv", "top.bin"]
    for args in (["ls-files"], ["ls-files", "--rev", "HEAD"]):
        proc = datax(*args, cwd=data_repo / "data")
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, at_top, "")


def test_track_with_nothing_tracked_says_how_to_start(repo: Path) -> None:
    proc = datax("track")
    assert (proc.returncode, proc.stdout) == (0, "")
    assert proc.stderr == "no pattern is tracked yet: `git datax track '*.csv'` adds one\n"


@pytest.mark.parametrize("pattern, matched", [("*", ".gitattributes"), ("**", ".gitattributes"),
                                              ("/*", ".gitattributes"), ("**/*", ".gitattributes"),
                                              (".git*", ".gitattributes"), ("*.toml", ".datax.toml"),
                                              ("*ignore", ".gitignore"), ("[.]*", ".gitattributes")])
def test_track_refuses_a_pattern_that_matches_gitdatax_own_files(repo: Path, pattern: str, matched: str) -> None:
    # Stored as a stub, .gitattributes would reach a clone as stub text: no file gets its data.
    assert one_line_error(datax("track", pattern)) == (
        f"{pattern}: it also matches {matched}, which must stay plain text in Git (git reads it from "
        "the commit): use a narrower pattern, e.g. '*.bin'")
    assert not (repo / ".gitattributes").exists()


def test_patterns_that_miss_gitdatax_own_files_are_tracked(repo: Path) -> None:
    assert datax("track", "*.bin", "data/**", "models/*", "*.tom").returncode == 0
    for name in (".gitattributes", ".gitignore", ".datax.toml"):
        assert git("check-attr", "filter", "--", name).stdout == f"{name}: filter: unspecified\n"


def test_migrate_import_refuses_an_include_that_matches_gitdatax_own_files(repo: Path) -> None:
    write(repo / "main.py", b"code\n")
    write(repo / ".gitignore", b"*.tmp\n")
    git("add", "-A")
    git("commit", "-qm", "one")
    head = git("rev-parse", "HEAD").stdout
    assert one_line_error(datax("migrate", "import", "--include", "*.bin,*")) == (
        "--include *: it also matches .gitattributes, which must stay plain text in Git (git reads it from "
        "the commit): use a narrower pattern, e.g. '*.bin'")
    assert git("rev-parse", "HEAD").stdout == head


def test_migrate_import_refuses_an_include_that_matches_no_file(repo: Path) -> None:
    write(repo / "data" / "x.bin", b"weights")
    git("add", "-A")
    git("commit", "-qm", "one")
    head = git("rev-parse", "HEAD").stdout
    assert one_line_error(datax("migrate", "import", "--include", "data/")) == (
        "--include data/: git applies attributes to files, not directories, so this pattern matches nothing: "
        "use 'data/**' for every file under data/")
    assert git("rev-parse", "HEAD").stdout == head


@pytest.mark.parametrize("days", ["-1", "nan"])
def test_gc_refuses_a_keep_days_that_is_not_a_number_of_days(repo: Path, days: str) -> None:
    # nan compared false with every commit date: no commit counted as recent, whatever its age.
    assert one_line_error(datax("gc", "--dry-run", "--keep-days", days)) == f"--keep-days must be 0 or more, not {days}"


@pytest.mark.parametrize("local", [False, True])
def test_remote_add_reads_a_relative_path_from_the_current_directory(repo: Path, local: bool) -> None:
    (repo / "data").mkdir()
    proc = datax("remote", "add", *(["--local"] if local else []), "nas", "../store", cwd=repo / "data")
    assert proc.returncode == 0, proc.stderr
    assert "(./store)" in proc.stderr
    # Stored relative to the top of the work tree, where the settings are read from.
    assert datax("remote", "list").stdout == f"nas  {repo / 'store'}  (default)\n"


def test_status_and_ls_files_keep_one_line_per_file_whatever_the_path(data_repo: Path) -> None:
    for name in ("new\nline.bin", "tab\there.bin", 'q"uote \\ ünï.bin'):
        write(data_repo / name, b"x")
    git("add", "-A")
    git("commit", "-qm", "odd paths")
    # Control characters are C-quoted as git quotes them; anything else is shown as it is.
    names = ['"new\\nline.bin"', 'q"uote \\ ünï.bin', '"tab\\there.bin"']
    status = datax("status", "--all").stdout.splitlines()
    assert [line.split("  ")[-1] for line in status[1:]] == names
    for args in (["ls-files"], ["ls-files", "--rev", "HEAD"]):
        assert [line.split("  ")[-1] for line in datax(*args).stdout.splitlines()] == names


def test_track_and_status_say_when_the_filter_is_not_installed(repo: Path) -> None:
    git("config", "--global", "--remove-section", "filter.datax")
    proc = datax("track", "*.bin")
    assert proc.returncode == 0
    assert proc.stderr.splitlines()[-1] == (
        "git-datax: warning: the datax filter is not configured: run `git datax install`, or git stores "
        "the files these patterns match as they are")
    write(repo / "a.bin", b"weights")
    git("add", "a.bin")
    assert datax("status").stdout.splitlines()[-1] == (
        "  (the datax filter is not configured: run `git datax install` first)")
    git("config", "--global", "filter.datax.process", "git-datax filter-process")
    assert "warning" not in datax("track", "*.csv").stderr


def test_env_says_how_to_install_missing_hooks(make_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bare_hooks = make_repo("plain", hooks=False)
    rows = dict(line.split(None, 1) for line in datax("env", cwd=bare_hooks).stdout.splitlines()
                if line.startswith("hooks "))
    assert rows["hooks"].endswith("(missing: pre-commit, pre-push, post-checkout, post-merge, post-rewrite; "
                                  "run `git datax install`)")


def test_a_path_the_locale_cannot_encode_is_printed_as_git_prints_it(data_repo: Path) -> None:
    write(data_repo / "données.bin", b"x")
    git("add", "-A")
    for args in (["ls-files"], ["status", "--all"]):
        proc = datax(*args, env={"PYTHONIOENCODING": "ascii"})
        assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
        assert proc.stdout.endswith("  données.bin\n")  # its UTF-8 bytes, as git writes it
    message = datax("untrack", "données.bin", env={"PYTHONIOENCODING": "ascii"})
    assert (message.returncode, message.stderr.splitlines()[-1]) == (1, "git-datax: error: no pattern was untracked")
    assert "données.bin was not tracked" in message.stderr


def test_gc_that_removed_only_leftovers_does_not_say_it_deleted_nothing(data_repo: Path) -> None:
    write(data_repo / "a.bin", b"weights")
    git("add", "a.bin")
    git("commit", "-qm", "a")
    git("rm", "-q", "a.bin")
    git("commit", "-qm", "gone")
    git("update-ref", "refs/remotes/origin/main", "HEAD")  # pushed: a.bin's object needs a remote's word
    write(data_repo / ".git/datax/tmp/999999999.leftover.obj", b"half an object")
    proc = datax("gc", "--keep-days", "0", "--grace", "0")
    assert proc.returncode == 1
    assert proc.stdout == "gc: removed 1 temporary file(s) left by interrupted writes (14 B)\n"
    assert proc.stderr.startswith("git-datax: error: gc deleted no object: no remote store configured")


def test_filling_in_stubs_without_the_filter_says_to_install_it(data_repo: Path) -> None:
    from helpers import stub_bytes

    write(data_repo / "a.bin", b"weights")
    git("add", "a.bin")
    git("commit", "-qm", "a")
    write(data_repo / "a.bin", stub_bytes(b"weights"))
    git("config", "--global", "--remove-section", "filter.datax")
    expected = ("cannot fill in the 1 file(s) that are stubs: git has no datax filter to run, so it would "
                "write the stubs back: run `git datax install`, then `git datax checkout`")
    assert one_line_error(datax("checkout")) == expected
    assert (data_repo / "a.bin").read_bytes() == stub_bytes(b"weights")
    git("config", "--global", "filter.datax.process", "git-datax filter-process")
    assert datax("checkout").returncode == 0
    assert (data_repo / "a.bin").read_bytes() == b"weights"


def test_migrate_info_refuses_a_top_below_one(repo: Path) -> None:
    write(repo / "a.bin", b"x")
    git("add", "-A")
    git("commit", "-qm", "a")
    assert one_line_error(datax("migrate", "info", "--top", "0")) == "--top must be 1 or more, not 0"
    assert datax("migrate", "info", "--top", "1").returncode == 0


def test_remote_add_takes_dvc_s_short_default_flag(repo: Path, tmp_path: Path) -> None:
    assert datax("remote", "add", "-d", "nas", str(tmp_path)).returncode == 0
    assert datax("remote", "add", "other", str(tmp_path / "x")).returncode == 0
    assert datax("remote", "list").stdout.splitlines()[0] == f"nas    {tmp_path}  (default)"


def test_install_in_a_bare_repository_points_to_the_server_side(tmp_path: Path) -> None:
    bare = tmp_path / "proj.git"
    git("init", "-q", "--bare", str(bare))
    proc = datax("install", cwd=bare)
    assert proc.returncode == 0
    assert (
        f"{bare} is a bare repository: no hooks here; on the Git server, `git datax install --server` installs "
        "the one that refuses pushes whose data is not stored") in proc.stderr.splitlines()
    assert not (bare / "hooks" / "pre-receive").exists()


def test_track_from_outside_a_git_work_tree_env_writes_patterns_from_the_top(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {"GIT_DIR": str(repo / ".git"), "GIT_WORK_TREE": str(repo)}
    assert datax("track", "*.bin", cwd=outside, env=env).returncode == 0
    assert (repo / ".gitattributes").read_text() == "*.bin filter=datax diff=datax merge=datax -text\n"
    assert datax("untrack", "*.bin", cwd=outside, env=env).returncode == 0
    assert (repo / ".gitattributes").read_text() == ""


def test_remote_alone_lists_the_remotes_as_git_remote_does(repo: Path, tmp_path: Path) -> None:
    assert datax("remote", "add", "nas", str(tmp_path)).returncode == 0
    for args in ([], ["-v"]):
        alone, listed = datax("remote", *args), datax("remote", "list", *args)
        assert (alone.returncode, alone.stdout, alone.stderr) == (0, listed.stdout, listed.stderr)
    assert datax("remote", "-v").stdout != datax("remote").stdout


def test_track_of_a_pattern_git_lfs_tracks_points_to_migrate_from_lfs(repo: Path) -> None:
    lfs = "*.bin filter=lfs diff=lfs merge=lfs -text\n"
    write(repo / ".gitattributes", lfs.encode())
    assert one_line_error(datax("track", "*.bin")) == (
        "*.bin is tracked by Git LFS: `git datax migrate from-lfs` turns its pointers into stubs and its "
        "line into gitdatax's (a second line would check the LFS pointers out as text)")
    assert (repo / ".gitattributes").read_text() == lfs


def test_untrack_of_a_pattern_in_a_nested_gitattributes_names_that_file(repo: Path) -> None:
    write(repo / "sub" / ".gitattributes", b"*.h5 filter=datax diff=datax merge=datax -text\n")
    for cwd, shown in ((repo / "sub", "sub/*.h5"), (repo, "*.h5")):
        proc = datax("untrack", "*.h5", cwd=cwd)
        assert proc.returncode == 1
        assert proc.stderr.splitlines()[0] == (
            f"git-datax: warning: {shown} was not tracked in .gitattributes (sub/.gitattributes tracks it: "
            "edit that file)")


def test_no_command_lists_the_commands_in_one_line(tmp_path: Path) -> None:
    message = one_line_error(datax(cwd=tmp_path))
    assert message.startswith("no command given: one of install, uninstall, track, untrack, status, ls-files,")
    listed = message[len("no command given: one of "):].split(" (see")[0].split(", ")
    assert {"migrate", "get", "list", "import", "update", "model", "metrics", "params", "plots"} <= set(listed), listed
    assert message.endswith(" (see `git datax --help`)")
    assert "{" not in message and "filter-process" not in message


def test_gc_dry_run_lists_the_stored_bytes_it_frees(data_repo: Path, tmp_path: Path) -> None:
    from helpers import object_path, oid_of

    store = tmp_path / "store"
    store.mkdir()
    assert datax("remote", "add", "--local", "nas", str(store), "--default").returncode == 0
    write(data_repo / "a.bin", b"weights " * 100)
    git("add", "a.bin")
    git("commit", "-qm", "a")
    git("rm", "-q", "a.bin")
    git("commit", "-qm", "gone")
    git("update-ref", "refs/remotes/origin/main", "HEAD")
    oid = oid_of(b"weights " * 100)
    stored = object_path(data_repo, oid).stat().st_size
    proc = datax("gc", "--dry-run", "--keep-days", "0", "--grace", "0")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-2:] == [
        f"would delete {oid}      800 B of data, {stored} B stored  a.bin",
        f"gc: would delete 1 object(s), freeing {stored} B (dry run: nothing deleted)"]


def test_track_refuses_a_folder_pattern_that_matches_a_gitattributes_there(repo: Path) -> None:
    write(repo / "sub" / ".gitattributes", b"*.txt text\n")
    message = ("it also matches sub/.gitattributes, which must stay plain text in Git (git reads it from the "
               "commit): use a narrower pattern, e.g. '*.bin'")
    assert one_line_error(datax("track", "*", cwd=repo / "sub")) == f"*: {message}"
    assert one_line_error(datax("track", "sub/**")) == f"sub/**: {message}"
    assert datax("track", "data/*", "sub/*.bin").returncode == 0  # no .gitattributes in data/ to catch
