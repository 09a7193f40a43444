"""datax.yaml / dvc.yaml parsing: DVC's schema, interpolation, foreach and matrix, errors with lines."""
from __future__ import annotations

from pathlib import Path

import pytest

from gitdatax.errors import FatalError
from gitdatax.pipeline.spec import Out, ParamRef, PlotSpec, load_pipeline, parse_pipeline

PIPELINE = b"""\
vars:
  - extra: 5
stages:
  prepare:
    cmd: python3 prepare.py ${extra}
    deps: [prepare.py, data/raw.csv]
    outs: [data/clean.csv]
  train:
    cmd: python3 train.py ${train}
    deps: [train.py, data/clean.csv]
    params: [train.lr, train.epochs, {other.json: [x]}]
    outs: [models/model.bin]
    metrics: [{metrics.json: {cache: false}}]
    plots: [{plots/train.tsv: {x: step, y: loss}}]
  shard:
    foreach: ${shards}
    do: {cmd: "python3 shard.py ${item}", outs: ["out/${item}.bin"]}
  pairs:
    foreach: {small: 1, big: 9}
    do: {cmd: "echo ${key} ${item}"}
  mx:
    matrix: {m: [x, y], n: [1, 2]}
    cmd: echo ${item.m} ${item.n}
    wdir: sub
    outs: ["o-${key}"]
metrics: [eval/report.json]
params: [params.yaml]
plots: [plots/loss.tsv, {acc: {x: step, y: {a.tsv: acc, b.tsv: [acc, loss]}}}]
artifacts:
  model: {path: models/model.bin, type: model}
"""
PARAMS = b"train:\n  lr: 0.1\n  epochs: 3\nshards: [a, b]\n"


def files(mapping: dict[str, bytes]):  # type: ignore[no-untyped-def]
    return mapping.get


def test_the_schema_with_interpolation_foreach_and_matrix() -> None:
    pipeline = parse_pipeline(PIPELINE, "datax.yaml", files({"params.yaml": PARAMS}))
    assert list(pipeline.stages) == ["prepare", "train", "shard@a", "shard@b", "pairs@small", "pairs@big",
                                     "mx@x-1", "mx@x-2", "mx@y-1", "mx@y-2"]
    prepare, train = pipeline.stages["prepare"], pipeline.stages["train"]
    assert prepare.cmd == "python3 prepare.py 5" and prepare.deps == ("prepare.py", "data/raw.csv")
    assert prepare.outs == (Out("data/clean.csv"),)
    assert train.cmd == "python3 train.py --lr 0.1 --epochs 3"  # a dict in cmd: DVC's --key value
    assert train.params == (ParamRef("params.yaml", ("train.lr", "train.epochs")), ParamRef("other.json", ("x",)))
    assert train.metrics == (Out("metrics.json", cache=False),)
    assert train.plots == (PlotSpec("plots/train.tsv", x="step", y=("loss",)),)
    assert pipeline.stages["shard@b"].outs == (Out("out/b.bin"),)
    assert pipeline.stages["pairs@big"].cmd == "echo big 9"
    matrix = pipeline.stages["mx@y-2"]
    assert (matrix.cmd, matrix.wdir, matrix.outs[0].path) == ("echo y 2", "sub", "sub/o-y-2")
    assert pipeline.metrics_files() == ("eval/report.json", "metrics.json")
    assert pipeline.params_files() == ("params.yaml", "other.json")
    assert [p.path for p in pipeline.plots] == ["plots/loss.tsv", "a.tsv", "b.tsv"]
    assert [p.path for p in pipeline.plots()] == ["plots/loss.tsv", "a.tsv", "b.tsv", "plots/train.tsv"]
    assert pipeline.plots[2] == PlotSpec("b.tsv", x="step", y=("acc", "loss"), name="acc")
    assert pipeline.artifacts["model"].path == "models/model.bin"


def test_wdir_stage_vars_and_escapes() -> None:
    text = b"""\
stages:
  s:
    wdir: sub
    vars: [conf.yaml]
    cmd: echo \\${literal} ${size} ${flag}
    deps: [../shared.py, in]
    params: [size]
"""
    pipeline = parse_pipeline(text, "datax.yaml", files({"sub/conf.yaml": b"size: 3\nflag: false\n"}))
    stage = pipeline.stages["s"]
    assert stage.cmd == "echo ${literal} 3 false"
    assert stage.deps == ("shared.py", "sub/in")
    assert stage.params == (ParamRef("sub/params.yaml", ("size",)),)


@pytest.mark.parametrize("text, message", [
    (b"stages:\n  a:\n    cmd: [x\n", "datax.yaml:4: invalid YAML"),
    (b"stages:\n  a:\n    deps: [x]\n", "datax.yaml:3: stage 'a': 'cmd' is required"),
    (b"stages:\n  a:\n    cmd: x\n  b:\n    cmd: y\n    outz: [o]\n", "datax.yaml:5: stage 'b': unknown key 'outz'"),
    (b"stages:\n  a:\n    cmd: x ${nope.key}\n", "datax.yaml:3: stage 'a': '${nope.key}' is not defined"),
    (b"stages:\n  a:\n    cmd: x\n    outs: [../up]\n", "stage 'a': 'outs' entry '../up' is outside the work tree"),
    (b"stages:\n  a:\n    cmd: x\n    frozen: maybe\n", "stage 'a': 'frozen' must be true or false"),
    (b"stagez: {}\n", "datax.yaml:1: unknown key 'stagez'"),
    (b"- a\n", "datax.yaml:1: a pipeline file must be a mapping"),
    (b"vars: [missing.yaml]\nstages: {}\n", "vars file 'missing.yaml' does not exist"),
])
def test_mistakes_are_one_line_naming_file_and_line(text: bytes, message: str) -> None:
    with pytest.raises(FatalError) as caught:
        parse_pipeline(text, "datax.yaml", files({}))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_datax_yaml_wins_over_dvc_yaml_and_neither_is_none(tmp_path: Path) -> None:
    assert load_pipeline(tmp_path) is None
    (tmp_path / "dvc.yaml").write_text("stages:\n  d:\n    cmd: echo dvc\n")
    assert load_pipeline(tmp_path).path == "dvc.yaml"  # type: ignore[union-attr]
    (tmp_path / "datax.yaml").write_text("stages:\n  x:\n    cmd: echo datax\n")
    pipeline = load_pipeline(tmp_path)
    assert pipeline is not None and pipeline.path == "datax.yaml" and list(pipeline.stages) == ["x"]


def test_params_files_by_extension_and_dotted_keys() -> None:
    from gitdatax.pipeline.params_file import is_missing, lookup, parse_params

    assert parse_params(b'{"train": {"lr": 0.1, "layers": [4, 8]}}', "conf.json") == {"train": {"lr": 0.1, "layers": [4, 8]}}
    toml = parse_params(b"[train]\nlr = 0.2\n", "conf.toml")
    assert lookup(toml, "train.lr") == 0.2
    data = parse_params(b"train:\n  layers: [4, 8]\n'a.b': 1\n", "params.yaml")
    assert lookup(data, "train.layers.1") == 8 and lookup(data, "a.b") == 1
    assert is_missing(lookup(data, "train.nope"))
    for text, name, kind in ((b"{", "p.json", "invalid JSON"), (b"[x", "p.toml", "invalid TOML"),
                             (b"- 1\n", "p.yaml", "must hold a mapping")):
        with pytest.raises(FatalError, match=f"{name}: .*{kind}|{name}: {kind}"):
            parse_params(text, name)
