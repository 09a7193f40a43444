"""`plots diff v1 v2 v3 -o report.html` writes one self-contained HTML file, and headless Chromium
draws its charts: the step curve of each revision in its colour, the final metrics' bars, an
image; nothing is fetched from the network."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from helpers import datax, git
from metrics_repo import make_iterations

REVISION_COLOURS = {"v1": (0x1F, 0x77, 0xB4), "v2": (0xFF, 0x7F, 0x0E), "v3": (0x2C, 0xA0, 0x2C)}  # tab10
MAGENTA = (255, 0, 255)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    assert found, "headless Chromium is needed (./install.sh --dev installs the Debian package)"
    return found


def render(page: Path, out: Path, tmp: Path) -> tuple[str, Path]:
    """The DOM Chromium built, and a screenshot of the whole report."""
    base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
            "--no-first-run", f"--user-data-dir={tmp / 'chromium-profile'}", "--window-size=1400,3000"]
    dom = subprocess.run([*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    shot = subprocess.run([*base, f"--screenshot={out}", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.returncode == 0 and out.exists(), shot.stderr[-2000:]
    return dom.stdout, out


def pixels_near(image: "object", colour: tuple[int, int, int], box: tuple[int, int, int, int] | None = None) -> int:
    from PIL import Image

    assert isinstance(image, Image.Image)
    region = image.crop(box) if box else image
    counts = region.getcolors(region.width * region.height) or []
    return sum(n for n, p in counts if all(abs(a - b) <= 12 for a, b in zip(p[:3], colour)))


def test_plots_diff_writes_a_report_that_chromium_draws(repo: Path, tmp_path: Path) -> None:
    from PIL import Image

    make_iterations(repo)
    Image.new("RGB", (60, 60), MAGENTA).save(repo / "eval" / "confusion.png")
    pipeline = (repo / "datax.yaml").read_text()
    (repo / "datax.yaml").write_text(pipeline + "plots:\n  - eval/confusion.png\n")

    proc = datax("plots", "diff", "v1", "v2", "v3", "workspace", "-o", "report.html")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    # 1 step curve (train/loss) + 3 bar charts (wer, acc, train.loss; DVCLive's step is not charted)
    assert proc.stdout == "report.html: 4 chart(s) of 4 revision(s)\n"
    page = repo / "report.html"
    text = page.read_text()
    assert "<script" not in text  # nothing to run, nothing to fetch: it opens offline
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert text.count('data-plot="dvclive/plots/metrics/train/loss.tsv"') == 1
    assert git("status", "--porcelain", "--untracked-files=no").stdout == " M datax.yaml\n"

    dom, shot = render(page, tmp_path / "report.png", tmp_path)
    assert dom.count("<svg") == 4
    curve = re.search(r'data-plot="dvclive/plots/metrics/train/loss.tsv">(.*?)</svg>', dom, re.S)
    assert curve is not None
    for colour in ("#1f77b4", "#ff7f0e", "#2ca02c"):  # one line per revision in the chart's own colour
        assert f"stroke: {colour}" in curve.group(1)
    assert 'alt="eval/confusion.png at workspace"' in dom

    image = Image.open(shot).convert("RGB")
    width, height = image.size
    assert (width, height) == (1400, 3000)
    top = (0, 0, width, height // 3)  # the curves come first
    for tag, colour in REVISION_COLOURS.items():
        assert pixels_near(image, colour, top) > 80, f"{tag}'s curve is not drawn"
    assert pixels_near(image, MAGENTA) >= 50 * 50  # the image is shown, not a broken-image icon

    show = datax("plots", "show", "-o", str(tmp_path / "show.html"))
    assert show.returncode == 0, show.stderr
    assert show.stdout.endswith(": 4 chart(s) of 1 revision(s)\n")


def test_plots_diff_with_nothing_to_draw_says_so(repo: Path) -> None:
    (repo / "a.txt").write_text("a\n")
    git("add", "a.txt")
    git("commit", "-qm", "a")
    proc = datax("plots", "diff", "-o", "out/report.html")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "out/report.html: 0 chart(s) of 2 revision(s)\n"
    assert proc.stderr == ("git-datax: warning: no plots or metrics to draw at these revisions: name plots files "
                           "in datax.yaml (`plots: [plots/train.tsv]`) or log them with gitdatax.log\n")
    assert (repo / "out/report.html").read_text().startswith("<!DOCTYPE html>")


def test_a_plots_file_broken_at_one_revision_is_named_and_the_rest_is_drawn(repo: Path) -> None:
    make_iterations(repo)
    pipeline = (repo / "datax.yaml").read_text()
    (repo / "datax.yaml").write_text(pipeline + "plots:\n  - eval/curve.json:\n      x: epoch\n      y: f1\n")
    (repo / "eval" / "curve.json").write_text('[{"epoch": 1, "f1": 0.5}, {"epoch": 2, "f1": "n/a"}, {"epoch": 3, ')
    proc = datax("plots", "diff", "v3", "workspace", "-o", "r.html")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ("git-datax: warning: workspace: eval/curve.json: invalid JSON: Expecting property "
                           "name enclosed in double quotes: line 1 column 67 (char 66)\n")
    assert proc.stdout == "r.html: 4 chart(s) of 2 revision(s)\n"  # the loss curves and the bars are drawn
    page = (repo / "r.html").read_text()
    assert "<li>workspace: eval/curve.json: invalid JSON" in page

    (repo / "eval" / "curve.json").write_text('[{"epoch": 1, "f1": 0.5}, {"epoch": 2, "f1": "n/a"}, '
                                              '{"epoch": 3, "f1": 0.7}]')  # a value that is not a number
    proc = datax("plots", "diff", "v3", "workspace", "-o", "r.html")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout == "r.html: 5 chart(s) of 2 revision(s)\n"
    curve = re.search(r'data-plot="eval/curve.json">(.*?)</svg>', (repo / "r.html").read_text(), re.S)
    assert curve is not None and ">epoch<" in curve.group(1) and ">f1<" in curve.group(1)  # x and y as datax.yaml says


def test_confusion_matrices_of_each_revision_side_by_side(repo: Path) -> None:
    import json

    (repo / "datax.yaml").write_text("plots:\n  - confusion.json:\n      template: confusion\n"
                                     "      x: actual\n      y: predicted\n      title: Confusion\n")
    pairs = [(0, 0), (0, 0), (0, 1), (1, 1), (1, 1), (1, 1), (1, 0)]
    (repo / "confusion.json").write_text(json.dumps([{"actual": a, "predicted": p} for a, p in pairs]))
    git("add", "-A")
    git("commit", "-qm", "v1")
    git("tag", "v1")
    (repo / "confusion.json").write_text(json.dumps({"confusion_matrix": [  # DVC also reads {name: [records]}
        {"actual": a, "predicted": a} for a, _ in pairs]}))
    proc = datax("plots", "diff", "v1", "workspace", "-o", "r.html")
    assert (proc.returncode, proc.stderr, proc.stdout) == (0, "", "r.html: 2 chart(s) of 2 revision(s)\n")
    page = (repo / "r.html").read_text()
    v1, workspace = re.findall(r'data-confusion="confusion.json">(.*?)</svg>', page, re.S)
    texts = lambda svg: re.findall(r"<text[^>]*>([^<]*)</text>", svg)  # noqa: E731
    # ticks and labels of both axes, then counts[actual][predicted] with actual across
    # (a0 p0, a1 p0, a0 p1, a1 p1), then the revision as the title
    assert texts(v1) == ["0", "1", "actual", "0", "1", "predicted", "2", "1", "1", "3", "v1"]
    assert texts(workspace)[6:] == ["3", "0", "0", "4", "workspace"]
    assert "Step curves" not in page  # a confusion file is not drawn as curves too


def test_a_plots_file_named_but_missing_is_said(repo: Path) -> None:
    (repo / "datax.yaml").write_text("plots:\n  - plots/loss.tsv\n")
    proc = datax("plots", "show", "-o", "r.html")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0] == ("git-datax: warning: workspace: plots/loss.tsv: named in the pipeline "
                                           "file, but there is no such file")


def test_a_top_level_plot_of_several_files_is_one_chart_as_dvc_draws_it(repo: Path) -> None:
    """DVC's `NAME: {x: epoch, y: {train.csv: loss, val.csv: loss}}`: train and validation loss
    of every revision in one chart named NAME (each file in its dash), besides train.csv's own."""
    import json

    pipeline = ("plots:\n  - train.csv:\n      x: epoch\n"
                "  - Loss:\n      x: epoch\n      y:\n        train.csv: loss\n        val.csv: loss\n")
    (repo / "datax.yaml").write_text(pipeline)
    (repo / "dvc.yaml").write_text(pipeline)
    assert subprocess.run(["dvc", "init", "-q"], capture_output=True).returncode == 0
    for tag, scale in (("v1", 1.0), ("v2", 0.5)):
        for name, offset in (("train.csv", 0.0), ("val.csv", 0.1)):
            (repo / name).write_text("epoch,loss\n" + "".join(f"{e},{scale / (e + 1) + offset}\n" for e in range(3)))
        git("add", "-A")
        git("commit", "-qm", tag)
        git("tag", tag)
    theirs = subprocess.run(["dvc", "plots", "diff", "v1", "v2", "--json"], capture_output=True, text=True)
    assert theirs.returncode == 0, theirs.stderr
    assert list(json.loads(theirs.stdout)["data"]) == ["train.csv", "Loss"]

    proc = datax("plots", "diff", "v1", "v2", "-o", "r.html")
    assert (proc.returncode, proc.stderr, proc.stdout) == (0, "", "r.html: 2 chart(s) of 2 revision(s)\n")
    page = (repo / "r.html").read_text()
    assert re.findall(r'data-plot="([^"]*)"', page) == ["train.csv", "Loss"]  # was train.csv, val.csv
    loss = page.split('data-plot="Loss">', 1)[1].split("</svg>", 1)[0]
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", loss)
    assert texts[-5:] == ["Loss", "v1: train.csv::loss", "v1: val.csv::loss", "v2: train.csv::loss",
                          "v2: val.csv::loss"]  # the title, then the legend
    assert "epoch" in texts and "stroke-dasharray" in loss  # val.csv's lines are dashed
