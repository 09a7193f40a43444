"""Remote configuration: .datax.toml (team), git config (per user), the default derived from origin,
and `git datax remote add|list|remove|set-default` editing .datax.toml without losing anything."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import datax, git
from gitdatax import toml_edit
from gitdatax.remotes import remote_config
from gitdatax.errors import FatalError

TEAM = """# Team settings for gitdatax.
[core]
maxgitsize = "20MiB"   # raised for the audio clips

[remote.team]
url = "s3://acme-ml/wolof-asr"
default = true
region = "eu-west-3"

[tool.other]
keep = ["me", "[remote.fake]"]
"""


def test_add_set_default_remove_keep_everything_else(repo: Path) -> None:
    (repo / ".datax.toml").write_text(TEAM)
    proc = datax("remote", "add", "nas", "/srv/nas/wolof", "--default")
    assert proc.returncode == 0, proc.stderr
    text = (repo / ".datax.toml").read_text()
    assert text == TEAM.replace('default = true\n', '') + '\n[remote.nas]\nurl = "/srv/nas/wolof"\ndefault = true\n'
    assert remote_config.resolve(None).url == "/srv/nas/wolof"

    assert datax("remote", "set-default", "team").returncode == 0
    assert (repo / ".datax.toml").read_text() == TEAM.replace(
        'region = "eu-west-3"\n', 'region = "eu-west-3"\ndefault = true\n').replace(
        'default = true\nregion', 'region') + '\n[remote.nas]\nurl = "/srv/nas/wolof"\n'
    assert remote_config.resolve(None).name == "team"

    assert datax("remote", "remove", "nas").returncode == 0
    assert datax("remote", "remove", "team").returncode == 0
    text = (repo / ".datax.toml").read_text()
    assert "[remote" not in text.replace('"[remote.fake]"', "")
    assert text.startswith("# Team settings for gitdatax.\n[core]\nmaxgitsize = \"20MiB\"   # raised")
    assert 'keep = ["me", "[remote.fake]"]' in text


def test_list_shows_default_first_and_sources(repo: Path) -> None:
    (repo / ".datax.toml").write_text(TEAM)
    assert datax("remote", "add", "--local", "mine", "../mystore", "--region", "us-east-1").returncode == 0
    assert git("config", "--local", "datax.remote.mine.url").stdout.strip() == "../mystore"
    proc = datax("remote", "list", "-v")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "team  s3://acme-ml/wolof-asr  (default)"
    assert "from .datax.toml" in lines[1]
    mine = lines.index(f"mine  {repo.parent / 'mystore'}")  # relative paths are from the top
    assert lines[mine + 1].strip() == "from git config" and lines[mine + 2].strip() == "region = us-east-1"


def test_git_config_overrides_team_file_key_by_key(repo: Path) -> None:
    (repo / ".datax.toml").write_text(TEAM)
    git("config", "--local", "datax.remote.team.endpointUrl", "http://127.0.0.1:9000")
    git("config", "--local", "datax.remote.team.region", "us-east-1")
    remote = remote_config.resolve("team")
    assert remote.url == "s3://acme-ml/wolof-asr"
    assert remote.options == {"endpoint_url": "http://127.0.0.1:9000", "region": "us-east-1"}
    # A per-user default wins over the team's.
    assert datax("remote", "add", "--local", "mine", "/srv/mine", "--default").returncode == 0
    assert remote_config.resolve(None).name == "mine"
    assert remote_config.configured_default().name == "mine"


def test_default_derived_from_origin(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", str(bare))
    git("remote", "add", "origin", str(bare))
    derived = remote_config.resolve(None)
    assert (derived.url, derived.options, derived.source) == (str(bare / "datax"), {"create": True}, "origin")
    assert remote_config.configured_default() is None  # derived is not "configured" (pre-commit)
    cases = {
        "https://git.example.com/org/proj": "https://git.example.com/org/proj.git/info/lfs",
        "https://git.example.com/org/proj.git/": "https://git.example.com/org/proj.git/info/lfs",
        "ssh://git@host:2222/srv/proj.git": "ssh://git@host:2222/srv/proj.git",
        "git@host:proj.git": "git@host:proj.git",
    }
    for url, expected in cases.items():
        git("remote", "set-url", "origin", url)
        assert remote_config.resolve(None).url == expected, url
    git("config", "remote.origin.lfsurl", "https://lfs.example.com/proj")
    assert remote_config.resolve(None).url == "https://lfs.example.com/proj"
    assert remote_config.resolve("origin").url == "https://lfs.example.com/proj"
    assert remote_config.resolve(None).options == {"exact_endpoint": True}  # lfs.url is used as given


def test_default_follows_the_store_a_server_names(repo: Path, tmp_path: Path) -> None:
    """A bare repository set up with `install --server --store URL` checks pushes against that
    store, so a client whose origin is that repository must upload there too."""
    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", str(bare))
    git("remote", "add", "origin", str(bare))
    git("config", "--file", str(bare / "config"), "datax.serverstore", "s3://team-bucket/proj")
    git("config", "--file", str(bare / "config"), "datax.serverstore.endpoint-url", "http://127.0.0.1:9")
    derived = remote_config.resolve(None)
    assert (derived.url, derived.options) == ("s3://team-bucket/proj", {"endpoint_url": "http://127.0.0.1:9"})


def test_lfs_endpoint_of_a_server_root_is_the_root() -> None:
    from gitdatax.remotes.lfs_http import lfs_endpoint

    assert lfs_endpoint("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert lfs_endpoint("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert lfs_endpoint("https://h/org/proj") == "https://h/org/proj.git/info/lfs"
    assert lfs_endpoint("https://h/custom/lfs", exact=True) == "https://h/custom/lfs"


def test_nothing_configured_and_unknown_names_are_one_clear_line(repo: Path) -> None:
    with pytest.raises(FatalError, match="no remote store configured and no git remote origin"):
        remote_config.resolve(None)
    (repo / ".datax.toml").write_text(TEAM)
    with pytest.raises(FatalError, match=r"no remote named 'nope' \(known: team; see `git datax remote list`\)"):
        remote_config.resolve("nope")
    proc = datax("remote", "set-default", "nope")
    assert proc.returncode == 1
    assert proc.stderr == "git-datax: error: no remote named 'nope' (known: team; add it with `git datax remote add`)\n"
    proc = datax("remote", "add", "bad name", "/x")
    assert proc.returncode == 1 and "invalid remote name 'bad name'" in proc.stderr
    proc = datax("remote", "add", "team", "/x")
    assert proc.returncode == 1 and "already exists in .datax.toml" in proc.stderr
    proc = datax("remote", "add", "gopher", "gopher://host/x")
    assert proc.returncode == 1 and "unsupported URL scheme 'gopher'" in proc.stderr


def test_an_inline_table_is_refused_not_mangled(repo: Path) -> None:
    text = 'remote = { team = { url = "/srv/a", default = true } }\n'
    (repo / ".datax.toml").write_text(text)
    proc = datax("remote", "add", "nas", "/srv/nas")
    assert proc.returncode == 1
    assert "cannot make this change safely" in proc.stderr and "Traceback" not in proc.stderr
    assert (repo / ".datax.toml").read_text() == text


def test_toml_strings_are_escaped() -> None:
    weird = 'a "quoted" \\ path\twith\x7f\x01 controls'
    text = toml_edit.add_table("", ("remote", "my team"), {"url": weird, "default": True})
    assert text.startswith('[remote."my team"]\n')
    from gitdatax.config import tomllib

    assert tomllib.loads(text) == {"remote": {"my team": {"url": weird, "default": True}}}
    assert toml_edit.remove_table(text, ("remote", "my team")) == ""


def test_display_url_hides_passwords() -> None:
    assert remote_config.display_url("https://bob:s3cret@host/x.git/info/lfs") == "https://bob@host/x.git/info/lfs"
    assert remote_config.display_url("s3://bucket/prefix") == "s3://bucket/prefix"
