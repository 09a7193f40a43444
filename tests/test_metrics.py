"""`metrics show`, `metrics diff` and `params diff` across tagged iterations, with real git and
the real `git datax`: tables as a terminal shows them when piped, `--json` as DVC prints it,
`--csv`, `--md`; a file stored by gitdatax read from the store (and fetched from the remote);
bad input at one revision shown in its place while the rest is shown."""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from helpers import datax, git, make_writable, object_path, oid_of
from metrics_repo import expected, make_iterations


def _fmt(value: float) -> str:
    return repr(value).removesuffix(".0") if isinstance(value, float) else str(value)


def test_metrics_show_all_commits_as_table_json_csv_and_md(repo: Path) -> None:
    make_iterations(repo)
    proc = datax("metrics", "show", "-A")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    rows = [("workspace", expected("v3"))] + [(tag, expected(tag)) for tag in ("v3", "v2", "v1")]
    header = ["Revision", "wer", "acc", "train.loss", "step"]  # top-level metrics first, as DVC 3
    table = [header] + [[name, *(_fmt(v[k]) for k in header[1:])] for name, v in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    lines += ["  ".join([r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]) for r in table[1:]]
    assert proc.stdout == "\n".join(lines) + "\n"  # piped: aligned, numbers to the right, no colour
    assert "\033[" not in proc.stdout

    as_json = json.loads(datax("metrics", "show", "-A", "--json").stdout)
    v1 = git("rev-parse", "v1").stdout.strip()
    assert list(as_json) == ["workspace", git("rev-parse", "v3").stdout.strip(),
                             git("rev-parse", "v2").stdout.strip(), v1]
    assert as_json[v1] == {"data": {
        "metrics.json": {"data": {"acc": expected("v1")["acc"]}},
        "eval/report.json": {"data": {"wer": expected("v1")["wer"]}},  # from the store: Git holds a stub
        "dvclive/metrics.json": {"data": {"train": {"loss": expected("v1")["train.loss"]}, "step": 2}}}}

    parsed = list(csv.reader(io.StringIO(datax("metrics", "show", "-A", "--csv").stdout)))
    assert parsed == table

    md = datax("metrics", "show", "v1", "v2", "--md").stdout.splitlines()
    assert md[0] == "| Revision | wer | acc | train.loss | step |"
    assert md[1] == "|---|---:|---:|---:|---:|"
    assert md[3] == f"| v1 | {_fmt(expected('v1')['wer'])} | {_fmt(expected('v1')['acc'])} | " \
                    f"{_fmt(expected('v1')['train.loss'])} | 2 |"
    assert len(md) == 5  # header, rule, workspace, v1, v2


def test_metrics_show_sort_only_changed_and_limit(repo: Path) -> None:
    make_iterations(repo)
    proc = datax("metrics", "show", "-n", "2", "--sort-by", "acc", "--sort-order", "desc", "--only-changed", "--csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.reader(io.StringIO(proc.stdout)))
    assert rows[0] == ["Revision", "wer", "acc", "train.loss"]  # step is 2 everywhere: left out
    assert [r[0] for r in rows[1:]] == ["v2", "workspace", "v3"]  # v2's acc is the best; -n 2: v3, v2
    targeted = datax("metrics", "show", "--targets", "metrics.json", "v1", "--csv").stdout.splitlines()
    assert targeted == ["Revision,acc", f"workspace,{_fmt(expected('v3')['acc'])}", f"v1,{_fmt(expected('v1')['acc'])}"]
    assert [r.split(",")[0] for r in datax("metrics", "show", "-a", "-T", "--csv").stdout.splitlines()] == [
        "Revision", "workspace", "main", "v1", "v2", "v3"]  # DVC's -a and -T: each branch and tag by its name
    (repo / "metrics.json").write_text('{"acc": 0.01}')
    git("stash", "-q")  # a stash's commits are no iteration: -A leaves them out
    assert [r.split(",")[0] for r in datax("metrics", "show", "-A", "--csv").stdout.splitlines()] == [
        "Revision", "workspace", "v3", "v2", "v1"]
    proc = datax("metrics", "show", "--sort-by", "f1")
    assert (proc.returncode, proc.stderr) == (
        1, "git-datax: error: no metric 'f1' to sort by (metrics: wer, acc, train.loss, step)\n")


def test_metrics_diff_json_is_dvcs_shape(repo: Path) -> None:
    make_iterations(repo)
    proc = datax("metrics", "diff", "v1", "v2", "--json")
    assert proc.returncode == 0, proc.stderr
    old, new = expected("v1"), expected("v2")
    assert json.loads(proc.stdout) == {
        "metrics.json": {"acc": {"old": old["acc"], "new": new["acc"], "diff": new["acc"] - old["acc"]}},
        "eval/report.json": {"wer": {"old": old["wer"], "new": new["wer"], "diff": new["wer"] - old["wer"]}},
        "dvclive/metrics.json": {"train.loss": {"old": old["train.loss"], "new": new["train.loss"],
                                                "diff": new["train.loss"] - old["train.loss"]}},
    }
    # Default A is HEAD, B the work tree: nothing changed since v3, so nothing is printed.
    assert (datax("metrics", "diff").returncode, datax("metrics", "diff").stdout) == (0, "")
    everything = json.loads(datax("metrics", "diff", "v3", "--all", "--json").stdout)
    assert everything["dvclive/metrics.json"]["step"] == {"old": 2, "new": 2, "diff": 0}

    table = datax("metrics", "diff", "v1", "v2", "--precision", "2").stdout.splitlines()
    assert table[0].split() == ["Path", "Metric", "v1", "v2", "Change"]
    assert table[1].split() == ["eval/report.json", "wer", "0.36", "0.17", "-0.19"]
    assert table[2].split() == ["metrics.json", "acc", "0.27", "0.66", "+0.39"]


def test_params_diff(repo: Path) -> None:
    make_iterations(repo)
    proc = datax("params", "diff", "v1", "v3", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"params.yaml": {"train.lr": {"old": 0.1, "new": 0.2}},
                                       "dvclive/params.yaml": {"lr": {"old": 0.1, "new": 0.2}}}
    lines = datax("params", "diff", "v1", "v3").stdout.splitlines()
    assert [line.split() for line in lines] == [["Path", "Param", "v1", "v3"], ["params.yaml", "train.lr", "0.1", "0.2"],
                                                ["dvclive/params.yaml", "lr", "0.1", "0.2"]]
    (repo / "params.yaml").write_text("train:\n  lr: 0.2\n  epochs: 5\nseed: 7\n")  # the work tree counts
    assert json.loads(datax("params", "diff", "--json").stdout) == {
        "params.yaml": {"train.epochs": {"old": 3, "new": 5}}}
    assert json.loads(datax("params", "diff", "v3", "--all", "--json").stdout)["params.yaml"]["seed"] == {
        "old": 7, "new": 7}


def test_bad_input_is_shown_in_its_place_and_the_rest_is_shown(repo: Path) -> None:
    make_iterations(repo)
    (repo / "metrics.json").write_text('{"acc": 0.5, "f1": ')  # malformed in the work tree
    (repo / "eval/report.json").write_text('{"wer": "n/a"}')  # not a number
    git("add", "-A")
    git("commit", "-qm", "broken")
    git("tag", "bad")
    pipeline = (repo / "datax.yaml").read_text().replace("[eval/report.json]", "[eval/report.json, eval/extra.json]")
    (repo / "datax.yaml").write_text(pipeline)  # names a file that does not exist
    proc = datax("metrics", "show", "bad", "v3")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["Revision", "wer", "acc", "train.loss", "step"]
    assert lines[1].split() == ["workspace", "n/a", "!", "0.512", "2"]
    assert lines[2].split() == ["bad", "n/a", "!", "0.512", "2"]
    assert lines[3].split() == ["v3", "0.256", "0.488", "0.512", "2"]
    assert proc.stderr.splitlines() == [
        "git-datax: warning: workspace: eval/extra.json: named in the pipeline file, but there is no such file",
        "git-datax: warning: workspace: metrics.json: invalid JSON: Expecting value: line 1 column 20 (char 19)",
        "git-datax: warning: bad: metrics.json: invalid JSON: Expecting value: line 1 column 20 (char 19)"]
    shown = json.loads(datax("metrics", "show", "--json").stdout)["workspace"]["data"]
    assert shown["eval/extra.json"]["error"]["type"] == "FileNotFoundError"
    assert shown["metrics.json"]["error"]["msg"].startswith("invalid JSON")
    diff = json.loads(datax("metrics", "diff", "v3", "bad", "--json").stdout)
    assert diff["eval/report.json"] == {"wer": {"old": 0.256, "new": "n/a"}}  # no diff for a non-number
    assert diff["metrics.json"] == {"acc": {"old": 0.488, "new": None}}

    for args in (["metrics", "show", "nope"], ["metrics", "diff", "v1", "nope"], ["params", "diff", "nope"],
                 ["plots", "diff", "v1", "nope"]):
        proc = datax(*args)
        assert (proc.returncode, proc.stdout, proc.stderr) == (
            1, "", "git-datax: error: unknown revision 'nope': not a commit, branch or tag of this repository\n"), args

    (repo / "datax.yaml").write_text("stages: [oops\n")  # a broken pipeline file: that revision says so
    proc = datax("metrics", "show", "v3")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1].split()[0:2] == ["workspace", "!"]
    assert proc.stderr.startswith("git-datax: warning: workspace: datax.yaml")
    assert "Traceback" not in proc.stderr


def test_a_stub_whose_object_is_missing_is_fetched_from_the_default_remote(repo: Path, tmp_path: Path) -> None:
    make_iterations(repo)
    nas = tmp_path / "nas"
    nas.mkdir()
    assert datax("remote", "add", "nas", str(nas), "--default").returncode == 0
    assert datax("push", "--all", "-q").returncode == 0
    data = json.dumps({"wer": expected("v1")["wer"]}).encode()
    local = object_path(repo, oid_of(data))
    make_writable(local)
    os.unlink(local)
    proc = datax("metrics", "show", "v1", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["v1"]["data"]["eval/report.json"] == {"data": {"wer": expected("v1")["wer"]}}
    assert local.exists()  # fetched into the local store

    make_writable(local)
    os.unlink(local)
    assert datax("remote", "remove", "nas").returncode == 0
    proc = datax("metrics", "show", "v1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[2].split()[:3] == ["v1", "!", _fmt(expected("v1")["acc"])]
    assert f"v1: eval/report.json: its data ({oid_of(data)[:12]}) is not in the local store" in proc.stderr


def test_readme_comparing_iterations_block(repo: Path) -> None:
    import re
    import subprocess

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Comparing iterations\n", 1)[1].split("\n## ", 1)[0]
    python_block = re.search(r"```python\n(.*?)```", section, re.S)
    sh_block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert python_block and sh_block
    (repo / "train.py").write_text(python_block.group(1))
    proc = subprocess.run(["bash", "-euc", sh_block.group(1)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    promised = re.search(r"metrics diff lr-0.1 lr-0.4 --json +# (\{.*\})\n", sh_block.group(1))
    assert promised
    assert json.loads(datax("metrics", "diff", "lr-0.1", "lr-0.4", "--json").stdout) == json.loads(promised.group(1))
    assert datax("params", "diff", "lr-0.1", "lr-0.4").stdout.splitlines()[1].split() == [
        "dvclive/params.yaml", "lr", "0.1", "0.4"]
    assert (repo / "report.html").read_text().count("<svg") == 2  # the loss curves, the final loss
    assert proc.stdout.splitlines()[0].split() == ["Revision", "train.loss", "step"]


def test_a_terminal_gets_colour_and_no_color_turns_it_off(repo: Path) -> None:
    import pty
    import subprocess

    make_iterations(repo)

    def on_a_terminal(*args: str, env: dict[str, str] | None = None) -> str:
        master, slave = pty.openpty()
        proc = subprocess.run(["git", "datax", *args], stdout=slave, stderr=subprocess.PIPE,
                              env={**os.environ, **(env or {})})
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side is closed and everything was read
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        assert proc.returncode == 0, proc.stderr
        return out.decode()

    shown = on_a_terminal("metrics", "diff", "v1", "v2")
    assert "\033[1mPath" in shown  # the header bold
    assert "\033[32m" in shown and "\033[31m" in shown  # acc went up (green), wer down (red)
    plain = on_a_terminal("metrics", "diff", "v1", "v2", env={"NO_COLOR": "1"})
    assert "\033[" not in plain and plain.replace("\r\n", "\n") == datax("metrics", "diff", "v1", "v2").stdout
