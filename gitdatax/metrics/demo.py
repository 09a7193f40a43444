"""The comparison part of `git datax demo`: three iterations of a small training loop logged with
gitdatax.log, each committed and tagged, then `metrics show`, `metrics diff`, `params diff` and
`plots diff` say which was best. The checks read the files themselves, not what the commands
say about them."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

LOOP = """\
import sys
from gitdatax import log

lr = float(sys.argv[1])
log.log_param("lr", lr)
loss = 1.0
for epoch in range(8):
    loss = round(loss * (1 - lr) + lr * 0.15, 4)   # converges towards 0.15, faster for a larger lr
    log.log_metric("train/loss", loss)
    log.next_step()
"""
ITERATIONS = (("exp1", 0.1), ("exp2", 0.4), ("exp3", 0.25))


def run_comparison_demo(repo: Path, git: Callable[..., str], step: Callable[[str], None],
                        info: Callable[[str], None], report: Path) -> bool:
    """True when the commands found the best iteration and drew the report."""
    import subprocess
    import sys

    from gitdatax.metrics import report as html_report
    from gitdatax.metrics import revisions, views

    (repo / "loop.py").write_text(LOOP)
    finals = {}
    step("compare: three training runs logged with gitdatax.log, each committed and tagged")
    for tag, lr in ITERATIONS:
        subprocess.run([sys.executable, "loop.py", str(lr)], cwd=repo, check=True)
        finals[tag] = json.loads((repo / "dvclive/metrics.json").read_text())["train"]["loss"]
        git("add", "-A")
        git("commit", "-q", "-m", f"train with lr {lr}")
        git("tag", tag)
        info(f"    {tag}: lr {lr}, final train/loss {finals[tag]}")
    tags = [tag for tag, _ in ITERATIONS]
    step(f"git datax metrics show {' '.join(tags)}")
    shown = views.metrics_show(repo, tags, targets=["dvclive/metrics.json"])
    for line in shown.text.splitlines():
        info(f"    {line}")
    best = min(finals, key=finals.__getitem__)
    step(f"git datax metrics diff exp1 {best} --json")
    diff = json.loads(views.values_diff(repo, "exp1", best, kind="metrics", fmt="json").text)
    info(f"    {json.dumps(diff)}")
    step(f"git datax params diff exp1 {best}")
    for line in views.values_diff(repo, "exp1", best, kind="params").text.splitlines():
        info(f"    {line}")
    step(f"git datax plots diff {' '.join(tags)} -o {report}")
    built = html_report.build(repo, revisions.for_plots(repo, tags))
    html_report.write(report, built.html)
    info(f"    {report}: {built.charts} chart(s); {best} has the lowest loss")
    loss_diff = diff.get("dvclive/metrics.json", {}).get("train.loss", {})
    return (loss_diff.get("old") == finals["exp1"] and loss_diff.get("new") == finals[best]
            and all(tag in shown.text for tag in tags) and built.charts >= 2 and not shown.notes)
