"""Every subcommand's answer to a user's mistake: one line on stderr, a non-zero status, and
no traceback unless ``--debug`` asks for it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from chainrule.cli import main
from chainrule.cli.model_file import PREFIX
from chainrule.io import load, load_metadata, save

TRAIN = ["train", "--no-progress", "--hidden", "4", "--epochs", "1"]


def _csv(path: Path, text: str) -> None:
    path.write_text(text)


@pytest.fixture(scope="module")
def workshop(tmp_path_factory) -> Path:
    """A folder of good and bad files: a model trained on the columns a, b of train.csv,
    its checkpoint, and the broken things users hand over."""
    root = tmp_path_factory.mktemp("mistakes")
    rows = "\n".join(f"{i % 7 / 7:.3f},{i % 5 / 5:.3f},{i % 2}" for i in range(40))
    _csv(root / "train.csv", "a,b,label\n" + rows + "\n")
    argv = [*TRAIN, "--data", str(root / "train.csv"), "--target", "label"]
    assert main([*argv, "--out", str(root / "run")]) == 0
    model = root / "run" / "model.safetensors"
    (root / "model.safetensors").write_bytes(model.read_bytes())
    (root / "checkpoint.safetensors").write_bytes(
        (root / "run" / "checkpoint.safetensors").read_bytes()
    )
    (root / "folder").mkdir()
    (root / "folder.csv").mkdir()
    (root / "somefile").write_text("not a folder\n")
    (root / "corrupt.safetensors").write_bytes(b"\x00\x01garbage, not safetensors")
    save({"w": np.zeros(3, np.float32)}, root / "plain.safetensors")
    metadata = load_metadata(model)
    bigger = metadata[PREFIX + "recipe"].replace("hidden = [4]", "hidden = [16]")
    save(load(model), root / "mismatch.safetensors", {**metadata, PREFIX + "recipe": bigger})
    broken = {**metadata, PREFIX + "features": "two"}
    save(load(model), root / "malformed.safetensors", broken)
    import torch

    torch.save({"w": torch.zeros(2)}, root / "torch.pt")
    _csv(root / "x.csv", "a,b\n0.1,0.2\n0.3,0.4\n")
    _csv(root / "wrongcols.csv", "a,z\n0.1,0.2\n")
    _csv(root / "extracols.csv", "a,b,id\n0.1,0.2,7\n")
    _csv(root / "onecol.csv", "a\n0.1\n")
    _csv(root / "badcell.csv", "a,b\n0.1,0.2\n0.3,x\n")
    _csv(root / "ragged.csv", "a,b\n0.1,0.2\n0.3\n")
    _csv(root / "empty.csv", "")
    _csv(root / "header.csv", "a,b\n")
    _csv(root / "bad.csv", "a,b,label\n1,2,0\n3,x,1\n")
    _csv(root / "nolabel.csv", "a,b\n1,2\n3,4\n")
    _csv(root / "typo.toml", "hiden = [3]\n")
    _csv(root / "broken.toml", "epochs = \n")
    _csv(root / "epochs.toml", 'epochs = "ten"\n')
    _csv(root / "hidden.toml", 'hidden = "wide"\n')
    _csv(root / "data.toml", "data = 5\n")
    _csv(root / "lr.toml", 'lr = "fast"\n')
    _csv(root / "stop.toml", 'stop_at_loss = "low"\n')
    _csv(root / "list.yaml", "- a\n- b\n")
    (root / "binary.toml").write_bytes(b"\xff\xfe\x00epochs")
    return root


T = "train --no-progress --hidden 4 --epochs 1"
XOR_RUN = f"{T} --data xor"
CONFIG = "train --no-progress --config"  # no flags: they would override the file's settings
CSV_RUN = f"{T} --data train.csv --target label"
MODEL = "model.safetensors"
DEMO = "demo moons --epochs 1 --no-progress --plot"

# (name, command line, exit status, a part of the one-line message)
MISTAKES = [
    # train: data and config
    ("missing csv", f"{T} --data missing.csv --target y", 2, "'missing.csv' does not exist"),
    ("csv is a folder", f"{T} --data folder.csv --target y", 2, "is a folder"),
    ("unknown data set", f"{T} --data cifar", 2, "setting data = 'cifar'"),
    ("csv without target", f"{T} --data train.csv", 2, "setting target = None"),
    ("no target column", f"{T} --data nolabel.csv --target label", 2, "no column named 'label'"),
    ("non-numeric cell", f"{T} --data bad.csv --target label", 2, "row 3, column 'b': 'x' is not"),
    ("empty csv", f"{T} --data empty.csv --target y", 2, "the file is empty"),
    ("missing config", f"{CONFIG} nowhere.toml", 2, "'nowhere.toml' does not exist"),
    ("config is a folder", f"{CONFIG} folder", 2, "is a folder, not a file"),
    ("unknown setting", f"{CONFIG} typo.toml", 2, "unknown setting 'hiden'"),
    ("malformed toml", f"{CONFIG} broken.toml", 2, "is not valid TOML"),
    ("config not text", f"{CONFIG} binary.toml", 2, "is not a text file"),
    ("epochs of wrong type", f"{CONFIG} epochs.toml", 2, "setting epochs = 'ten'"),
    ("hidden of wrong type", f"{CONFIG} hidden.toml", 2, "setting hidden = 'wide'"),
    ("data of wrong type", f"{CONFIG} data.toml", 2, "setting data = 5"),
    ("lr of wrong type", f"{CONFIG} lr.toml", 2, "setting lr = 'fast'"),
    ("stop of wrong type", f"{CONFIG} stop.toml", 2, "setting stop_at_loss = 'low'"),
    ("yaml list", f"{CONFIG} list.yaml", 2, "must hold key = value settings"),
    # train: the files it writes, checked before it trains
    ("save in missing folder", f"{XOR_RUN} --save no/m.safetensors", 2, "there is no folder 'no'"),
    ("save is a folder", f"{XOR_RUN} --save folder", 2, "it is a folder"),
    ("save under a file", f"{XOR_RUN} --save somefile/m.safetensors", 2, "is a file, not a folder"),
    ("out is a file", f"{XOR_RUN} --out somefile", 2, "'somefile' is a file, not a folder"),
    ("out under a file", f"{XOR_RUN} --out somefile/run", 2, "cannot make the output folder"),
    ("plot in missing folder", f"{XOR_RUN} --plot no/loss.png", 2, "there is no folder 'no'"),
    ("monitor in missing folder", f"{XOR_RUN} --monitor no/g.png", 2, "there is no folder"),
    # train: resuming
    ("resume missing", f"{XOR_RUN} --resume missing.ckpt", 2, "'missing.ckpt' does not exist"),
    ("resume a folder", f"{XOR_RUN} --resume folder", 2, "is a folder"),
    ("resume corrupt", f"{XOR_RUN} --resume corrupt.safetensors", 2, "corrupt.safetensors"),
    ("resume a model file", f"{CSV_RUN} --resume {MODEL}", 2, "not a training checkpoint"),
    ("resume other model", f"{CSV_RUN} --hidden 8 --resume checkpoint.safetensors", 2, "not fit"),
    # train: a run that diverges
    ("diverged", "train --data linear --optimizer sgd --lr 5 --no-progress", 1, "the loss became"),
    # predict
    ("predict missing model", "predict missing.safetensors x.csv", 2, "does not exist"),
    ("predict folder model", "predict folder x.csv", 2, "is a folder"),
    ("predict corrupt model", "predict corrupt.safetensors x.csv", 2, "corrupt.safetensors"),
    ("predict plain file", "predict plain.safetensors x.csv", 2, "not written by chainrule train"),
    ("predict checkpoint", "predict checkpoint.safetensors x.csv", 2, "a training checkpoint"),
    ("predict torch file", "predict torch.pt x.csv", 2, "torch.save"),
    ("predict mismatched weights", "predict mismatch.safetensors x.csv", 2, "do not fit"),
    ("predict bad metadata", "predict malformed.safetensors x.csv", 2, "= 'two' is malformed"),
    ("predict missing data", f"predict {MODEL} missing.csv", 2, "'missing.csv' does not exist"),
    ("predict folder data", f"predict {MODEL} folder", 2, "is a folder"),
    (
        "predict wrong column",
        f"predict {MODEL} wrongcols.csv",
        2,
        "no column ['b'] and the unknown",
    ),
    ("predict extra column", f"predict {MODEL} extracols.csv", 2, "the unknown columns ['id']"),
    ("predict too few columns", f"predict {MODEL} onecol.csv", 2, "no column ['b']"),
    ("predict bad cell", f"predict {MODEL} badcell.csv", 2, "badcell.csv, row 3, column 'b': 'x'"),
    ("predict ragged row", f"predict {MODEL} ragged.csv", 2, "ragged.csv, row 3: 1 cell, but"),
    ("predict empty csv", f"predict {MODEL} empty.csv", 2, "the file is empty"),
    ("predict header only", f"predict {MODEL} header.csv", 2, "no data rows"),
    ("predict out is a folder", f"predict {MODEL} x.csv --out folder", 2, "it is a folder"),
    ("predict out nowhere", f"predict {MODEL} x.csv --out no/p.csv", 2, "there is no folder"),
    # export
    ("export missing model", "export missing.safetensors --onnx m.onnx", 2, "does not exist"),
    ("export corrupt model", "export corrupt.safetensors --onnx m.onnx", 2, "corrupt.safetensors"),
    ("export plain file", "export plain.safetensors --onnx m.onnx", 2, "not written by chainrule"),
    ("export to a folder", f"export {MODEL} --onnx folder", 2, "it is a folder"),
    ("export to missing folder", f"export {MODEL} --onnx no/m.onnx", 2, "there is no folder"),
    # summary
    ("summary missing", "summary missing.safetensors", 2, "does not exist"),
    ("summary folder", "summary folder", 2, "is a folder"),
    ("summary corrupt", "summary corrupt.safetensors", 2, "corrupt.safetensors"),
    ("summary torch file", "summary torch.pt", 2, "torch.save"),
    # explain
    ("explain missing model", "explain --model missing.safetensors", 2, "does not exist"),
    ("explain corrupt model", "explain --model corrupt.safetensors", 2, "corrupt.safetensors"),
    ("explain plain file", "explain --model plain.safetensors", 2, "not written by chainrule"),
    # demo
    ("demo plot in missing folder", f"{DEMO} no/m.png", 2, "there is no folder"),
    ("demo plot is a folder", f"{DEMO} folder", 2, "it is a folder"),
]


def _one_line(err: str, command: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"chainrule {command}: "), lines[0]
    return lines[0]


def test_the_table_covers_every_subcommand() -> None:
    assert len(MISTAKES) >= 40
    commands = {line.split()[0] for _, line, _, _ in MISTAKES}
    assert commands == {"train", "predict", "export", "summary", "explain", "demo"}


@pytest.mark.parametrize(
    ("line", "status", "message"),
    [case[1:] for case in MISTAKES],
    ids=[case[0] for case in MISTAKES],
)
def test_a_mistake_ends_in_one_line_and_a_status(
    workshop, monkeypatch, capsys, line, status, message
):
    monkeypatch.chdir(workshop)
    argv = line.split()
    assert main(argv) == status
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    line = _one_line(captured.err, argv[0])
    assert message in line


def test_debug_shows_the_error_itself_before_or_after_the_command(workshop, monkeypatch) -> None:
    monkeypatch.chdir(workshop)
    with pytest.raises(FileNotFoundError, match=r"'missing\.safetensors' does not exist"):
        main(["--debug", "summary", "missing.safetensors"])
    with pytest.raises(ValueError, match="not written by chainrule train"):
        main(["predict", "plain.safetensors", "x.csv", "--debug"])
    with pytest.raises(ValueError, match="setting epochs = 'ten'"):
        main(["train", "--config", "epochs.toml", "--debug"])


def test_a_read_only_folder_is_found_before_training(workshop, monkeypatch, capsys) -> None:
    # os.access is what the check asks; as root every folder is writable, so it is told no.
    monkeypatch.chdir(workshop)
    denied = Path("folder")
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode: Path(path) != denied and real_access(path, mode)
    )
    assert main([*TRAIN, "--data", "xor", "--save", "folder/m.safetensors"]) == 2
    captured = capsys.readouterr()
    assert "the folder 'folder' is read-only" in _one_line(captured.err, "train")
    assert "stopped:" not in captured.out


def test_a_missing_optional_package_is_one_line(workshop, monkeypatch, capsys) -> None:
    monkeypatch.chdir(workshop)
    (workshop / "run.yaml").write_text("epochs: 1\n")
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml now raises ImportError
    assert main(["train", "--config", "run.yaml", "--no-progress"]) == 2
    line = _one_line(capsys.readouterr().err, "train")
    assert "needs the optional package 'yaml'" in line and "pip install" in line


def test_a_bug_is_one_line_that_points_to_debug(workshop, monkeypatch, capsys) -> None:
    import chainrule.cli.summary

    def broken(*_args):
        raise KeyError("oops")

    monkeypatch.chdir(workshop)
    monkeypatch.setattr(chainrule.cli.summary, "tensor_table", broken)
    assert main(["summary", "plain.safetensors"]) == 70
    line = _one_line(capsys.readouterr().err, "summary")
    assert "internal error" in line and "KeyError" in line and "--debug" in line
    with pytest.raises(KeyError, match="oops"):
        main(["summary", "plain.safetensors", "--debug"])


def _cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chainrule.cli", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_a_diverging_run_from_the_shell(tmp_path) -> None:
    argv = ["train", "--data", "linear", "--optimizer", "sgd", "--lr", "5", "--no-progress"]
    done = _cli(*argv, cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    line = _one_line(done.stderr, "train")
    assert "the loss became" in line and "lower learning rate" in line
    debug = _cli("--debug", *argv, cwd=tmp_path)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "TrainingDivergedError" in debug.stderr


def test_ctrl_c_stops_training_with_one_line_naming_the_checkpoint(tmp_path) -> None:
    # Python's own SIGINT handler, as in a terminal: a shell may start background jobs with
    # SIGINT ignored, and Python then keeps it ignored.
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from chainrule.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    argv = ["train", "--data", "moons", "--hidden", "4", "--epochs", "100000", "--no-progress"]
    process = subprocess.Popen(
        [sys.executable, "-c", code, *argv, "--out", "run"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    checkpoint = tmp_path / "run" / "checkpoint.safetensors"
    deadline = time.monotonic() + 90
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert checkpoint.exists(), "training did not start"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    line = _one_line(err, "train")
    assert "interrupted" in line and "--resume run/checkpoint.safetensors" in line
