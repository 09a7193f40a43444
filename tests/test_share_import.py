"""`git datax import` and `update`: another repository's data set becomes this project's data,
with its origin recorded; `status` says when the source moved on; a clone of the project gets
the data from the project's own remote, never from the source."""
from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from helpers import datax, git, is_stub, write
from sharehelpers import V1, V2, files_under, team  # noqa: F401 - the fixture


def _project(root: Path) -> tuple[Path, Path]:
    bare = root / "proj.git"
    git("init", "-q", "--bare", str(bare))
    assert datax("install", "--server", cwd=bare).returncode == 0
    work = root / "proj"
    git("clone", "-q", str(bare), str(work))
    write(work / "train.py", b"print('train')\n")
    git("add", "-A", cwd=work)
    git("commit", "-qm", "code", cwd=work)
    return bare, work


def test_import_update_and_a_clone_of_the_project(tmp_path: Path, team: tuple[Path, Path]) -> None:
    server, _ = team
    bare, proj = _project(tmp_path)
    result = datax("import", "../team.git", "data/clips", "--rev", "v1", "-o", "data/clips", cwd=proj)
    assert result.returncode == 0, result.stderr
    assert "imported data/clips of " in result.stderr and "2 stored as data" in result.stderr
    assert files_under(proj / "data" / "clips") == {"a.bin": V1["data/clips/a.bin"], "b.bin": V1["data/clips/b.bin"]}
    staged = git("diff", "--cached", "--name-only", cwd=proj).stdout.split()
    assert staged == [".datax-imports.toml", ".gitattributes", "data/clips/a.bin", "data/clips/b.bin"]
    assert "/data/clips/** filter=datax" in (proj / ".gitattributes").read_text()
    origin = tomllib.loads((proj / ".datax-imports.toml").read_text())["data/clips"]
    v1 = git("rev-parse", "v1^{commit}", cwd=server).stdout.strip()
    assert origin == {"repo": "../team.git", "path": "data/clips", "rev": "v1", "commit": v1}
    git("commit", "-qm", "import clips v1", cwd=proj)
    assert is_stub(git("show", "HEAD:data/clips/a.bin", cwd=proj).stdout.encode())

    same = datax("update", cwd=proj)
    assert same.returncode == 0 and "data/clips is up to date" in same.stderr

    write(proj / "data" / "clips" / "a.bin", b"edited here")
    refused = datax("update", "data/clips", "--rev", "v2", cwd=proj)
    assert refused.returncode == 1 and "data/clips has changes not committed" in refused.stderr
    assert (proj / "data" / "clips" / "a.bin").read_bytes() == b"edited here"
    moved = datax("update", "data/clips", "--rev", "v2", "--force", cwd=proj)
    assert moved.returncode == 0, moved.stderr
    assert files_under(proj / "data" / "clips") == {"a.bin": V1["data/clips/a.bin"], "b.bin": V1["data/clips/b.bin"],
                                                    "c.bin": V2["data/clips/c.bin"]}
    assert tomllib.loads((proj / ".datax-imports.toml").read_text())["data/clips"]["rev"] == "v2"
    git("commit", "-qm", "clips v2", cwd=proj)
    assert git("push", "-q", "origin", "HEAD", cwd=proj).returncode == 0  # pre-push uploads the imported data

    shutil.rmtree(server)  # the clone must not need the source
    clone = tmp_path / "clone"
    git("clone", "-q", str(bare), str(clone))
    assert files_under(clone / "data" / "clips")["c.bin"] == V2["data/clips/c.bin"]
    assert git("status", "--porcelain", cwd=clone).stdout == ""
    status = datax("status", cwd=clone)
    assert "import data/clips: cannot ask ../team.git about v2" in status.stdout


def test_status_names_an_import_whose_branch_moved_on(tmp_path: Path, team: tuple[Path, Path]) -> None:
    server, work = team
    _, proj = _project(tmp_path)
    assert datax("import", "../team.git", "models/asr.bin", "--rev", "main", cwd=proj).returncode == 0
    git("commit", "-qm", "model", cwd=proj)
    assert "import" not in datax("status", cwd=proj).stdout
    write(work / "models" / "asr.bin", b"v3 of the model" * 1000)
    git("commit", "-qam", "v3", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    status = datax("status", cwd=proj)
    assert "import asr.bin: main of ../team.git moved on (" in status.stdout, status.stdout
    assert "`git datax update asr.bin` brings it" in status.stdout
    assert "import" not in datax("status", "--no-imports", cwd=proj).stdout
    assert datax("update", cwd=proj).returncode == 0
    assert (proj / "asr.bin").read_bytes() == b"v3 of the model" * 1000
    assert "import" not in datax("status", cwd=proj).stdout


def test_import_refuses_what_it_cannot_do_in_one_line(tmp_path: Path, team: tuple[Path, Path]) -> None:
    _, proj = _project(tmp_path)
    write(proj / "asr.bin", b"mine")
    cases = [
        (["import", "../team.git", "models/asr.bin"], "asr.bin already exists"),
        (["import", "../team.git", "nope", "-o", "x"], "nope is not in"),
        (["import", "../team.git", "models", "--rev", "v9", "-o", "m"], "unknown revision 'v9'"),
        (["import", "../team.git", "models", "-o", str(tmp_path / "elsewhere")], "inside the work tree"),
        (["update", "train.py"], "nothing was imported here"),
    ]
    for args, expected in cases:
        result = datax(*args, cwd=proj)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and expected in result.stderr, (args, result.stderr)
    assert (proj / "asr.bin").read_bytes() == b"mine"
    assert git("status", "--porcelain", cwd=proj).stdout == "?? asr.bin\n"


def test_an_import_inside_another_or_holding_one_is_refused(tmp_path: Path, team: tuple[Path, Path]) -> None:
    """An import inside another was accepted, and `update` of the outer one then deleted the
    inner one's files (staged as deleted) while .datax-imports.toml still listed it. DVC refuses
    overlapping outputs; so does import now."""
    _, proj = _project(tmp_path)
    assert datax("import", "../team.git", "data/clips", "--rev", "v1", "-o", "sets/clips", cwd=proj).returncode == 0
    git("commit", "-qm", "clips", cwd=proj)
    before = (proj / ".datax-imports.toml").read_bytes(), (proj / ".gitattributes").read_bytes()
    cases = [
        (["import", "../team.git", "models", "-o", "sets/clips/models"],
         "sets/clips/models is inside the import sets/clips: `git datax update sets/clips` would replace it; "
         "choose another -o"),
        (["import", "../team.git", "data", "-o", "sets", "--force"],
         "sets holds the import sets/clips: importing there would replace it; choose another -o"),
    ]
    for args, expected in cases:
        result = datax(*args, cwd=proj)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr == f"git-datax: error: {expected}\n", args
    assert ((proj / ".datax-imports.toml").read_bytes(), (proj / ".gitattributes").read_bytes()) == before
    assert files_under(proj / "sets") == {"clips/a.bin": V1["data/clips/a.bin"], "clips/b.bin": V1["data/clips/b.bin"]}
    assert git("status", "--porcelain", cwd=proj).stdout == ""
    again = datax("import", "../team.git", "data/clips", "--rev", "v2", "-o", "sets/clips", "--force", cwd=proj)
    assert again.returncode == 0, again.stderr  # the same import, replaced: no overlap
    assert "c.bin" in files_under(proj / "sets" / "clips")


def test_an_import_named_with_glob_characters_is_tracked_as_that_file(tmp_path: Path, team: tuple[Path, Path]) -> None:
    """`/take [1].bin` in .gitattributes is a glob matching `take 1.bin`: the import's file was
    committed as its bytes, not as a stub. The pattern is now escaped."""
    _, work = team
    write(work / "take [1].bin", b"one take" * 1000)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "a take", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    _, proj = _project(tmp_path)
    result = datax("import", "../team.git", "take [1].bin", "--rev", "main", cwd=proj)
    assert result.returncode == 0, result.stderr
    assert git("check-attr", "filter", "--", "take [1].bin", cwd=proj).stdout == "take [1].bin: filter: datax\n"
    git("commit", "-qm", "import a take", cwd=proj)
    assert is_stub(git("show", "HEAD:take [1].bin", cwd=proj).stdout.encode())
