"""The L1/L2 example: L1 zeroes the useless weights, L2 only shrinks them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "regularisation.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("regularisation_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_l1_selects_features_and_l2_shrinks(capsys: pytest.CaptureFixture) -> None:
    example = _load()
    results = example.main()
    useless = example.TRUE_WEIGHTS == 0
    assert np.abs(results["l1"][useless]).max() < 0.02
    assert np.abs(results["none"][useless]).max() > 0.1
    assert np.abs(results["l2"][useless]).max() > 0.1
    # the relevant weights survive L1, and L2 shrinks them below the unpenalised fit
    np.testing.assert_allclose(results["l1"][~useless], example.TRUE_WEIGHTS[~useless], atol=0.4)
    relevant_norm = {k: np.linalg.norm(v[~useless]) for k, v in results.items()}
    assert relevant_norm["l2"] < relevant_norm["none"]
    assert "largest useless |w|" in capsys.readouterr().out
