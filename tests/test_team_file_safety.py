"""A committed .datax.toml is data a stranger may have written: it names remotes by URL and inert
options, never a program to run nor a credential (issue 11, item 1). Git itself never runs
configuration it cloned; Git LFS honours only a safe list of keys in .lfsconfig."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import datax, git, random_bytes, write

DANGEROUS_REMOTE_KEYS = {
    "sshcommand": '"touch {marker}; false"',
    "server_command": '"touch {marker}; git-datax"',
    "profile": '"prod"',
    "create": "true",
    "exact_endpoint": "true",
}


def _team_repo(tmp_path: Path, make_repo, team_toml: str) -> Path:
    """A bare 'origin' whose main branch carries `team_toml` as .datax.toml and one data file."""
    work = make_repo("author")
    git("datax", "track", "*.bin", cwd=work)
    write(work / "m.bin", random_bytes(5000, 1))
    git("add", ".gitattributes", "m.bin", cwd=work)
    git("commit", "-qm", "data", cwd=work)
    (work / ".datax.toml").write_text(team_toml)
    # The author's own commit must not run the command either: no hooks here.
    git("-c", "core.hooksPath=/dev/null", "add", ".datax.toml", cwd=work)
    git("-c", "core.hooksPath=/dev/null", "commit", "-qm", "team file", cwd=work)
    bare = tmp_path / "origin.git"
    git("clone", "-q", "--bare", str(work), str(bare))
    return bare


@pytest.mark.parametrize("key", sorted(DANGEROUS_REMOTE_KEYS))
def test_a_cloned_team_file_never_runs_a_command_nor_picks_credentials(tmp_path: Path, make_repo, key: str) -> None:
    marker = tmp_path / "PWNED"
    value = DANGEROUS_REMOTE_KEYS[key].format(marker=marker)
    toml = f'[remote.team]\nurl = "ssh://127.0.0.1:1/srv/data"\ndefault = true\n{key} = {value}\n'
    bare = _team_repo(tmp_path, make_repo, toml)

    clone = tmp_path / "clone"
    proc = git("clone", "-q", str(bare), str(clone), check=False)
    assert not marker.exists(), f"the team file's {key} ran a command during clone"
    assert proc.returncode == 0, proc.stderr
    assert f".datax.toml: [remote.team] {key}" in proc.stderr
    assert "git datax remote add --local" in proc.stderr or "git config" in proc.stderr

    for args in (("env",), ("pull",), ("fetch",), ("push",), ("remote", "list", "-v"), ("status",)):
        proc = datax(*args, cwd=clone)
        assert not marker.exists(), f"git datax {' '.join(args)} ran the team file's {key}"
        line = f".datax.toml: [remote.team] {key} may not be set in the team file"
        assert "Traceback" not in proc.stderr
        if args == ("env",):  # a report of the set-up: it shows the refusal and carries on
            assert proc.returncode == 0 and line in proc.stdout, proc.stdout
        elif args != ("status",):
            assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
            assert line in proc.stderr, (args, proc.stderr)
    proc = git("push", "-q", "origin", "HEAD:other", cwd=clone, check=False)
    assert not marker.exists()


def test_the_same_setting_in_the_users_own_git_config_is_honoured(tmp_path: Path, make_repo) -> None:
    """The safe way the refusal names works: the program comes from git config, the URL from the team."""
    marker = tmp_path / "ran"
    bare = _team_repo(tmp_path, make_repo, '[remote.team]\nurl = "ssh://127.0.0.1:1/srv/data"\ndefault = true\n')
    clone = tmp_path / "clone"
    git("clone", "-q", str(bare), str(clone), env={"GIT_DATAX_SKIP_SMUDGE": "1"})
    git("config", "datax.remote.team.sshcommand", f"touch {marker}; false", cwd=clone)
    proc = datax("pull", cwd=clone)
    assert marker.exists(), proc.stderr  # the user's own config may run what the user chose
    assert proc.returncode == 1


@pytest.mark.parametrize("url, why", [
    ("ssh://-oProxyCommand=touch%20PWNED/srv", "host"),
    ("-oProxyCommand=touch PWNED:srv", "host"),
    ("ssh://-lroot@example.invalid/srv", "user"),
    ("example.invalid:-srv", "path"),
    ("https://user:secret@lfs.example.invalid/info/lfs", "password"),
])
def test_hostile_urls_in_the_team_file_are_refused(repo: Path, url: str, why: str) -> None:
    (repo / ".datax.toml").write_text(f'[remote.team]\nurl = "{url}"\ndefault = true\n')
    proc = datax("remote", "list")
    assert proc.returncode == 1, proc.stdout
    assert proc.stderr.count("\n") == 1 and ".datax.toml" in proc.stderr and why in proc.stderr, proc.stderr
    assert "secret" not in proc.stderr + proc.stdout


def test_unknown_keys_in_the_team_file_are_refused_with_the_key_named(repo: Path) -> None:
    (repo / ".datax.toml").write_text('[remote.team]\nurl = "/srv/x"\ncredential_helper = "!sh -c id"\n')
    proc = datax("remote", "list")
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "git-datax: error: .datax.toml: [remote.team] credential_helper may not be set in the team file "
        "(it may name a remote's url, default, endpoint_url, region, multipart_threshold, retries, backoff, "
        "timeout, connections and chunks); set it in your own git config: "
        "`git datax remote add --local` or `git config datax.remote.team.credential-helper VALUE`")
    (repo / ".datax.toml").write_text('[core]\nmaxgitsize = "20MiB"\nhookspath = "/tmp"\n')
    proc = datax("remote", "list")
    assert proc.returncode == 1
    assert ".datax.toml: [core] hookspath may not be set in the team file" in proc.stderr


def test_inert_team_settings_still_work(repo: Path) -> None:
    (repo / ".datax.toml").write_text(
        '[core]\nmaxgitsize = "20MiB"\nconcurrency = 4\n\n[tool.other]\nkeep = 1\n\n'
        '[remote.team]\nurl = "s3://bucket/prefix"\ndefault = true\nendpoint_url = "http://127.0.0.1:9"\n'
        'region = "eu-west-3"\nmultipart_threshold = "8MiB"\nretries = 2\nbackoff = 0.1\ntimeout = 5\n'
        'connections = 2\n\n[remote.lfs]\nurl = "https://user@lfs.example.invalid/info/lfs"\nchunks = false\n')
    proc = datax("remote", "list", "-v")
    assert proc.returncode == 0, proc.stderr
    assert "team  s3://bucket/prefix  (default)" in proc.stdout


def test_remote_add_keeps_programs_and_credential_choices_out_of_the_team_file(repo: Path) -> None:
    for args in (("-o", "sshcommand=ssh -i key"), ("--profile", "prod"), ("-o", "server_command=/opt/x")):
        proc = datax("remote", "add", "team", "ssh://host/srv", *args)
        assert proc.returncode == 1, proc.stdout
        assert "team file" in proc.stderr and "--local" in proc.stderr, proc.stderr
        assert not (repo / ".datax.toml").exists()
    proc = datax("remote", "add", "--local", "team", "ssh://host/srv", "-o", "sshcommand=ssh -i key", "--profile", "prod")
    assert proc.returncode == 0, proc.stderr
    assert git("config", "datax.remote.team.sshcommand").stdout.strip() == "ssh -i key"
