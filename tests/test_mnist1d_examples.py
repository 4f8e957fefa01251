"""The MNIST-1D paper-check scripts (examples/mnist1d): each runs end to end on both libraries,
and each model and training loop is the same computation in chainrule and in PyTorch."""

from __future__ import annotations

import functools
import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

import chainrule as cr

SCRIPTS_DIR = Path(__file__).resolve().parent.parent / "examples" / "mnist1d"
MODELS = ["logistic", "mlp", "cnn", "gru"]
# Parameter counts printed by the paper's notebook (mnist1d-classification.ipynb).
NOTEBOOK_PARAMETERS = {"logistic": 410, "mlp": 15210, "cnn": 5210, "gru": 5134}
CHANCE = 10.0


def paper_setup() -> ModuleType:
    # The scripts import their shared paper_setup module from their own folder.
    if str(SCRIPTS_DIR) not in sys.path:
        sys.path.insert(0, str(SCRIPTS_DIR))
    return importlib.import_module("paper_setup")


@functools.cache
def load(name: str) -> ModuleType:
    paper_setup()
    spec = importlib.util.spec_from_file_location(f"mnist1d_{name}", SCRIPTS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # On a shared 2-core machine PyTorch's second thread mostly waits for the first; one
    # thread keeps these small models' runs short without changing any result checked here.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@functools.cache
def short_runs(name: str) -> dict:
    argv = ["--seeds", "0", "--steps", "60", "--framework", "both"]
    return load(name).main(argv, verbose=False)


def twin_models(name: str):
    """The script's model built by both libraries, chainrule's holding torch's weights."""
    build_model = load(name).build_model
    torch.manual_seed(0)
    torch_model = build_model(torch)
    chainrule_model = build_model(cr)
    state = {key: value.detach().numpy() for key, value in torch_model.state_dict().items()}
    chainrule_model.load_state_dict(state)
    return chainrule_model, torch_model


@pytest.mark.parametrize("name", MODELS)
def test_script_runs_on_both_libraries(name):
    runs = short_runs(name)
    assert set(runs) == {"chainrule", "torch"}
    for framework, (run,) in runs.items():
        assert run.framework == framework and run.seed == 0
        assert 0 <= run.accuracy <= 100 and run.seconds > 0
        # 60 steps (1.5 epochs) already lift every model well above chance.
        assert run.accuracy > 1.5 * CHANCE, (framework, run.accuracy)
        assert run.last_loss < run.first_loss


@pytest.mark.parametrize("name", MODELS)
def test_both_libraries_start_from_the_same_loss_scale(name):
    # Default initialisations give near-uniform predictions: the first loss is close to ln 10.
    runs = short_runs(name)
    first = {framework: run.first_loss for framework, (run,) in runs.items()}
    for loss in first.values():
        assert abs(loss - math.log(10)) < 0.35, first
    assert abs(first["chainrule"] - first["torch"]) < 0.35, first


@pytest.mark.parametrize("name", MODELS)
def test_model_matches_the_notebook_and_torch(name):
    chainrule_model, torch_model = twin_models(name)
    count = sum(p.numel() for p in chainrule_model.parameters())
    assert count == sum(p.numel() for p in torch_model.parameters())
    assert count == NOTEBOOK_PARAMETERS[name]
    x = np.random.default_rng(1).standard_normal((7, 40)).astype(np.float32)
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(x)).numpy()
    logits = chainrule_model(cr.from_numpy(x))
    assert logits.shape == (7, 10)
    np.testing.assert_allclose(logits.detach().numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_training_loop_matches_torch_from_the_same_weights(name):
    chainrule_model, torch_model = twin_models(name)
    chainrule_losses, _ = paper_setup().fit(cr, chainrule_model, steps=12)
    torch_losses, _ = paper_setup().fit(torch, torch_model, steps=12)
    # Adam at lr 1e-2 in float32: the trajectories agree closely over the first epoch's half.
    np.testing.assert_allclose(chainrule_losses, torch_losses, rtol=2e-3)
    assert chainrule_losses[-1] < chainrule_losses[0]
