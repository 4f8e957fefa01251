"""``chainrule explain``: the printed trace and equations, the HTML page, bad arguments."""

from __future__ import annotations

import base64
import html
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.cli import main
from chainrule.inspect import explain, report
from chainrule.inspect.families import dense
from chainrule.inspect.tracer import trace


def run_explain(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = main(["explain", *argv])
    return code, capsys.readouterr().out


def test_explain_prints_the_table_and_every_layers_checked_equations(
    capsys: pytest.CaptureFixture,
) -> None:
    code, out = run_explain([], capsys)
    assert code == 0
    assert "One backprop step of a 2-2-1 sigmoid network on XOR (seed 0)" in out
    assert re.search(r"^l\s+layer\s+type\s+a_in\s+z\s+‖a_in‖\s+‖z‖\s+‖δ‖", out, re.M)
    assert "Layer 1 of 2: '0' Linear" in out and "Layer 2 of 2: '2' Linear" in out
    for equation in ("(BP1) δᴸ = ∇ₐC ⊙ σ'(zᴸ)", "(BP2)", "(BP3)", "(BP4)"):
        assert equation in out
    assert out.count("✓ matches autodiff") == 6 and "✗" not in out
    assert out.rstrip().endswith("all 6 checked equations match autodiff")


def test_the_printed_numbers_are_those_of_the_seeded_network(
    capsys: pytest.CaptureFixture,
) -> None:
    _, out = run_explain(["--seed", "1", "--hidden", "3"], capsys)
    assert "2-3-1 sigmoid network on XOR (seed 1)" in out
    cr.manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1), nn.Sigmoid())
    x = cr.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = cr.tensor([[0.0], [1.0], [1.0], [0.0]])
    loss = nn.MSELoss()(model(x), y)
    loss.backward()
    assert f"loss (MSELoss) = {loss.item():.6g} on a batch of 4" in out
    assert explain.format_array(model[2].weight.grad.numpy()) in out
    assert explain.format_array(model[0].bias.grad.numpy()) in out
    _, again = run_explain(["--seed", "1", "--hidden", "3"], capsys)
    _, other = run_explain(["--seed", "2", "--hidden", "3"], capsys)
    assert again == out and other != out


def test_a_failing_check_makes_the_command_exit_1(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dense, "linear_bias_gradient", lambda delta: delta.mean(axis=0))
    code, out = run_explain([], capsys)
    assert code == 1
    assert out.count("✗ differs from autodiff") == 2
    assert "2 of 6 checked equations differ from autodiff" in out


NO_DOT_NOTE = "dot</code> is not installed, so the graph is shown as its DOT source"
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="Graphviz's dot is not installed: the page shows the graph's DOT source instead",
)


def write_page(tmp_path: Path, capsys: pytest.CaptureFixture) -> str:
    """``chainrule explain --html`` into ``tmp_path``; the page, checked to be self-contained."""
    page_path = tmp_path / "explain.html"
    code, out = run_explain(["--html", str(page_path)], capsys)
    assert code == 0 and f"wrote {page_path}" in out
    assert [p.name for p in tmp_path.iterdir()] == ["explain.html"]  # no temporary file left
    page = page_path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count("✓ matches autodiff") == 6 and "all 6 checked equations match" in page
    assert "<th>‖∂C/∂W‖</th>" in page and "(BP2) δˡ = ((Wˡ⁺¹)ᵀ δˡ⁺¹) ⊙ σ&#x27;(zˡ)" in page
    # Nothing is fetched from elsewhere and nothing needs scripts.
    for outside in ("<script", "<link", 'src="http', 'href="http', "url(", "@import"):
        assert outside not in page
    assert "<?xml" not in page
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 1
    picture = matplotlib.image.imread(io.BytesIO(base64.b64decode(images[0])), format="png")
    assert picture.shape[0] > 100 and picture.shape[1] > 300
    return page


def test_html_page_is_self_contained(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    page = write_page(tmp_path, capsys)
    # The graph is drawn as SVG where Graphviz is installed, shown as DOT source where not.
    assert ("<svg" in page) != (NO_DOT_NOTE in page)


@needs_dot
def test_html_page_draws_the_graph_as_inline_svg(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    page = write_page(tmp_path, capsys)
    assert "<svg" in page and 'class="node"' in page and NO_DOT_NOTE not in page


def test_html_page_without_graphviz_shows_the_graph_as_dot_source(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Runs everywhere: where dot is installed, it is hidden from the page's renderer.
    real_which = shutil.which
    monkeypatch.setattr(
        report.shutil, "which", lambda name, *a, **k: None if name == "dot" else real_which(name)
    )
    page = write_page(tmp_path, capsys)
    assert "<svg" not in page and NO_DOT_NOTE in page
    source = re.search(r"<pre>(digraph.*?)</pre>", page, re.S)
    assert source is not None  # the DOT source, escaped for HTML
    assert re.search(r"^  leaf\d+ -> op\d+;$", html.unescape(source.group(1)), re.M)


def xor_trace(keep_graph: bool) -> object:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())
    x = cr.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = cr.tensor([[0.0], [1.0], [1.0], [0.0]])
    return trace(model, x, y, nn.MSELoss(), keep_graph=keep_graph)


def test_without_graphviz_the_page_shows_the_dot_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report.shutil, "which", lambda _name: None)
    page = report.render_report(xor_trace(keep_graph=True))
    assert "<svg" not in page and "digraph" in page
    assert "dot</code> is not installed, so the graph is shown as its DOT source" in page
    no_graph = report.render_report(xor_trace(keep_graph=False))
    assert "made without keep_graph=True" in no_graph and "<img src=" in no_graph


def test_without_matplotlib_the_page_says_so_in_place_of_the_chart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(module: str, purpose: str) -> None:
        raise ImportError(f"{purpose} needs the optional package 'matplotlib' ({module})")

    monkeypatch.setattr(report, "require", missing)
    page = report.render_report(xor_trace(keep_graph=False))
    assert "<img" not in page and "No chart: the gradient-norm chart of the explain page" in page
    assert page.count("✓ matches autodiff") == 6


def test_a_failing_check_is_marked_on_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dense, "output_delta", lambda grad_a, _sigma_prime: grad_a)
    page = report.render_report(xor_trace(keep_graph=False))
    assert page.count('class="verdict bad"') == 1 and page.count('class="verdict ok"') == 5
    assert "1 of 6 checked equations differ ✗" in page


def test_norm_chart_bars_are_the_trace_norms() -> None:
    t = xor_trace(keep_graph=False)
    png = report.norms_chart_png(t)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    expected = [numpy.linalg.norm(t.layers[0].delta), numpy.linalg.norm(t.layers[1].grad_bias)]
    assert [t.layers[0].norm("delta"), t.layers[1].norm("grad_bias")] == pytest.approx(expected)
    assert t.layers[0].norms["delta"] == t.layers[0].norm("delta")


@pytest.fixture
def saved_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> Path:
    """A model trained for two epochs by ``chainrule train``: weights and recipe."""
    argv = ["train", "--data", "xor", "--hidden", "3", "--activation", "tanh", "--epochs", "2"]
    assert main([*argv, "--no-progress", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    return tmp_path / "model.safetensors"


def test_a_model_saved_by_train_is_explained_on_its_data(
    saved_run: Path, capsys: pytest.CaptureFixture
) -> None:
    code, out = run_explain(["--model", str(saved_run), "--batch", "3"], capsys)
    assert code == 0
    assert f"model {str(saved_run)!r} on the first 3 training samples of 'xor'" in out
    assert "Tanh: tanh'(z) = 1 − tanh²(z)" in out and "(0): Linear(in_features=2" in out
    assert out.count("✓ matches autodiff") == 6 and "✗" not in out
    # The same step in PyTorch, from the saved weights and the same three samples.
    from chainrule.data import xor
    from chainrule.io import load

    weights = {name: torch.tensor(t.numpy()) for name, t in load(saved_run).items()}
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    net.load_state_dict(weights)
    x, y = (torch.tensor(t.numpy()[:3]) for t in xor().tensors)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), y)
    loss.backward()
    assert f"loss (BCEWithLogitsLoss) = {loss.item():.6g} on a batch of 3" in out
    assert explain.format_array(net[2].weight.grad.numpy()) in out


def test_a_saved_model_that_cannot_be_loaded_exits_2_with_the_reason(
    saved_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["explain", "--model", str(saved_run), "--data", "spirals"]) == 2
    err = capsys.readouterr().err
    # Found from the model file's description, before any weight is loaded.
    assert "is a binary model of 2 features and 1 outputs, but 'spirals' is" in err
    assert "classification data of 2 features and 3 outputs" in err
    # The model file describes its network; weights saved without that description and
    # without the recipe beside them cannot be rebuilt.
    alone = tmp_path / "alone.safetensors"
    cr.save(cr.load(saved_run), alone)
    assert main(["explain", "--model", str(alone)]) == 2
    err = capsys.readouterr().err
    assert str(alone) in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seed", "-1"], "expected a finite number of at least 0, got -1"),
        (["--hidden", "0"], "expected a finite number of at least 1, got 0"),
        (["--hidden", "two"], "expected a whole number, got 'two'"),
        (["--html", "page.txt"], "expected a file name ending in .html, got 'page.txt'"),
        (["--html", "/no/such/dir/page.html"], "no directory '/no/such/dir'"),
        (["--html"], "expected one argument"),
        (["--steps", "3"], "unrecognized arguments: --steps 3"),
        (["--data", "xor"], "--data needs --model"),
        (["--model", "m.safetensors", "--seed", "1"], "--hidden and --seed set up the XOR"),
        (["--batch", "0"], "expected a finite number of at least 1, got 0"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["explain", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_help_describes_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chainrule.cli", "explain", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "--html PATH" in done.stdout and "--seed" in done.stdout
    assert "backprop equations" in done.stdout
    listing = subprocess.run(
        [sys.executable, "-m", "chainrule.cli", "--help"], capture_output=True, text=True
    )
    assert "explain" in listing.stdout
