"""The files of ``chainrule train`` at work: ``--save``, ``--resume``, and ``predict``,
``export`` and ``summary`` reading a model file."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.cli.model_file import ModelCard, open_model
from chainrule.io import load, load_metadata, save
from chainrule.train.recipe import Recipe

TINY = ["--hidden", "8", "--epochs", "3", "--no-progress"]


def _write_csv(path, header, rows) -> None:
    path.write_text("\n".join([",".join(header), *(",".join(map(str, r)) for r in rows)]) + "\n")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A 3-class model trained on the columns a, b, c of a CSV file with the target 'label'."""
    folder = tmp_path_factory.mktemp("classifier")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(90, 3)).round(4)
    label = np.argmax(x @ rng.normal(size=(3, 3)), axis=1)
    _write_csv(folder / "train.csv", ["a", "b", "c", "label"], [[*r, k] for r, k in zip(x, label)])
    model = folder / "models" / "flowers.safetensors"
    model.parent.mkdir()
    argv = ["train", "--data", str(folder / "train.csv"), "--target", "label", *TINY]
    assert main([*argv, "--out", str(folder / "run"), "--save", str(model)]) == 0
    return folder, model, x


def _table(text: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def _softmax(logits: np.ndarray) -> np.ndarray:
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True)


def test_the_model_file_describes_its_network_and_data(classifier) -> None:
    folder, model_path, _ = classifier
    metadata = load_metadata(model_path)
    card = ModelCard.from_metadata(metadata, str(model_path))
    assert (card.task, card.features, card.outputs) == ("classification", 3, 3)
    assert card.feature_names == ["a", "b", "c"] and card.target == "label"
    assert card.recipe.hidden == [8] and card.recipe.epochs == 3
    assert metadata["chainrule.version"] == cr.__version__
    # The recipe beside the file says the same, and the weights are a plain state dict.
    assert model_path.with_suffix(".toml").read_text() == metadata["chainrule.recipe"]
    assert list(load(model_path)) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert (folder / "run" / "checkpoint.safetensors").is_file()


def test_predict_reads_the_columns_by_name_and_prints_classes_and_probabilities(
    classifier, tmp_path, capsys
) -> None:
    _, model_path, x = classifier
    # Columns in another order, without the target: matched by name.
    _write_csv(tmp_path / "new.csv", ["c", "a", "b"], x[:5][:, [2, 0, 1]].tolist())
    assert main(["predict", str(model_path), str(tmp_path / "new.csv")]) == 0
    header, rows = _table(capsys.readouterr().out)
    assert header == ["label", "p_0", "p_1", "p_2"]
    model, _ = open_model(model_path)
    expected = _softmax(model(cr.tensor(x[:5], dtype=cr.float32)).detach().numpy())
    got = np.array([[float(v) for v in row[1:]] for row in rows])
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert [int(row[0]) for row in rows] == expected.argmax(axis=1).tolist()


def test_predict_ignores_the_target_column_and_writes_out_atomically(
    classifier, tmp_path, capsys
) -> None:
    folder, model_path, _ = classifier
    out = tmp_path / "predictions.csv"
    assert main(["predict", str(model_path), str(folder / "train.csv"), "--out", str(out)]) == 0
    assert f"wrote 90 predictions to {out}" in capsys.readouterr().out
    header, rows = _table(out.read_text())
    assert header[0] == "label" and len(rows) == 90
    assert [p.name for p in tmp_path.iterdir()] == ["predictions.csv"]  # no temporary left


def test_predict_a_regression_on_a_built_in_data_set(tmp_path, capsys) -> None:
    model_path = tmp_path / "linear.safetensors"
    argv = ["train", "--data", "linear", *TINY, "--out", str(tmp_path), "--save", str(model_path)]
    assert main(argv) == 0
    _write_csv(tmp_path / "x.csv", ["anything"], [[0.5], [-1.0], [2.0]])
    capsys.readouterr()
    assert main(["predict", str(model_path), str(tmp_path / "x.csv")]) == 0
    header, rows = _table(capsys.readouterr().out)
    assert header == ["prediction"]
    model, card = open_model(model_path)
    assert card.task == "regression" and card.feature_names is None
    expected = model(cr.tensor([[0.5], [-1.0], [2.0]])).detach().numpy()[:, 0]
    np.testing.assert_array_equal(np.array([float(r[0]) for r in rows], np.float32), expected)


def test_export_writes_onnx_that_onnxruntime_runs_like_predict(
    classifier, tmp_path, capsys
) -> None:
    import onnxruntime

    _, model_path, x = classifier
    onnx_path = tmp_path / "flowers.onnx"
    assert main(["export", str(model_path), "--onnx", str(onnx_path)]) == 0
    assert "input 'input' (batch, 3) float32, output 'output' (batch, 3)" in capsys.readouterr().out
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    logits = session.run(["output"], {"input": x[:7].astype(np.float32)})[0]
    _write_csv(tmp_path / "seven.csv", ["a", "b", "c"], x[:7].tolist())
    assert main(["predict", str(model_path), str(tmp_path / "seven.csv")]) == 0
    _, rows = _table(capsys.readouterr().out)
    predicted = np.array([[float(v) for v in row[1:]] for row in rows])
    np.testing.assert_allclose(_softmax(logits.astype(np.float64)), predicted, atol=1e-6)


@pytest.mark.parametrize("architecture", ["lstm", "gru"])
def test_export_of_a_recurrent_model_runs_in_onnxruntime_like_chainrule(
    architecture, tmp_path, capsys
) -> None:
    """`--architecture lstm|gru` trains a SequenceModel (features read as time steps): its
    export follows the model's forward, and onnxruntime gives chainrule's outputs."""
    import onnxruntime

    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 6)).round(3)
    _write_csv(tmp_path / "seq.csv", [*"abcdef", "y"], [[*r, int(r.sum() > 0)] for r in x])
    model_path = tmp_path / "seq.safetensors"
    argv = ["train", "--data", str(tmp_path / "seq.csv"), "--target", "y", "--hidden", "5"]
    argv += ["--architecture", architecture, "--epochs", "1", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "run"), "--save", str(model_path)]) == 0
    onnx_path = tmp_path / "seq.onnx"
    assert main(["export", str(model_path), "--onnx", str(onnx_path)]) == 0
    capsys.readouterr()
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(["output"], {"input": x[:9].astype(np.float32)})[0]
    model, _ = open_model(model_path)
    expected = model(cr.tensor(x[:9], dtype=cr.float32)).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_summary_shows_the_recipe_layers_and_tensors(classifier, capsys) -> None:
    _, model_path, _ = classifier
    assert main(["summary", str(model_path)]) == 0
    out = capsys.readouterr().out
    assert 'target = "label"' in out and "hidden = [8]" in out
    assert "task: classification (target column 'label'); reads the columns ['a', 'b', 'c']" in out
    assert "Total params: 59" in out  # 3*8 + 8 + 8*3 + 3
    assert "0.weight  (8, 3)" in out and "2.bias    (3,)" in out
    assert "4 tensors, 59 numbers, 236 bytes" in out


def test_summary_of_other_files_lists_their_tensors(classifier, tmp_path, capsys) -> None:
    folder, _, _ = classifier
    save({"w": np.zeros((2, 5), np.float16)}, tmp_path / "plain.safetensors")
    assert main(["summary", str(tmp_path / "plain.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "not written by chainrule train (no recipe)" in out and "w       (2, 5)" in out
    assert main(["summary", str(folder / "run" / "checkpoint.safetensors")]) == 0
    assert "model.0.weight" in capsys.readouterr().out


def test_a_file_from_before_the_metadata_is_read_through_its_recipe(classifier, tmp_path) -> None:
    _, model_path, _ = classifier
    old = tmp_path / "old.safetensors"
    save(load(model_path), old)  # the weights alone, as chainrule train wrote them before
    (tmp_path / "old.toml").write_text(model_path.with_suffix(".toml").read_text())
    model, card = open_model(old)
    assert card.feature_names == ["a", "b", "c"] and card.outputs == 3
    np.testing.assert_array_equal(model[0].weight.detach().numpy(), load(model_path)["0.weight"])


def test_explain_reads_the_recipe_from_the_model_file(classifier, tmp_path, capsys) -> None:
    _, model_path, _ = classifier
    alone = tmp_path / "alone.safetensors"
    alone.write_bytes(model_path.read_bytes())  # no .toml beside it
    assert main(["explain", "--model", str(alone), "--batch", "4"]) == 0
    assert "checked equations match autodiff" in capsys.readouterr().out


def test_resume_continues_to_the_parameters_of_one_straight_run(tmp_path) -> None:
    common = ["train", "--data", "moons", "--hidden", "8", "--no-progress"]
    straight, parts = tmp_path / "straight", tmp_path / "parts"
    assert main([*common, "--epochs", "4", "--out", str(straight)]) == 0
    assert main([*common, "--epochs", "2", "--out", str(parts)]) == 0
    checkpoint = parts / "checkpoint.safetensors"
    assert main([*common, "--epochs", "4", "--out", str(parts), "--resume", str(checkpoint)]) == 0
    whole, resumed = load(straight / "model.safetensors"), load(parts / "model.safetensors")
    assert list(whole) == list(resumed)
    for name in whole:
        np.testing.assert_array_equal(resumed[name].numpy(), whole[name].numpy(), err_msg=name)
    with open(parts / "history.csv", newline="") as log:
        epochs = [row["epoch"] for row in csv.DictReader(log)]
    assert epochs == ["0", "1", "2", "3"]


def test_save_is_checked_before_training(tmp_path, capsys) -> None:
    target = tmp_path / "missing" / "m.safetensors"
    argv = ["train", "--data", "xor", *TINY, "--out", str(tmp_path / "run")]
    assert main([*argv, "--save", str(target)]) == 2
    captured = capsys.readouterr()
    assert "there is no folder" in captured.err and str(tmp_path / "missing") in captured.err
    assert "stopped:" not in captured.out  # no training happened
    assert not (tmp_path / "run" / "checkpoint.safetensors").exists()


def test_the_recipe_check_names_settings_of_the_wrong_type() -> None:
    from chainrule.train.recipe import check

    for name, value in [("data", 5), ("target", 3), ("stop_at_loss", "low"), ("lr", True)]:
        recipe = Recipe(**{name: value})
        with pytest.raises(ValueError, match=f"setting {name} = "):
            check(recipe)
