"""What ``import chainrule`` loads, and that the packages it leaves for later are still there.

``import chainrule`` loads the tensor, its operations and the functions around them; the
packages built on them (nn, optim, train, data, inspect, onnx, io...) load on first use through
the package's ``__getattr__``. These tests check the structure that keeps the import fast,
not its time (timings live in benchmarks/): in a fresh interpreter, which modules the import
brings in, and that every name the package offered before is reachable as it was.
"""

from __future__ import annotations

import json
import subprocess
import sys

# The submodules that were attributes of chainrule after `import chainrule` when it loaded
# everything eagerly, and the top-level functions defined in the packages now loaded lazily.
SUBMODULES = [
    "accelerator",
    "autograd",
    "backend",
    "creation",
    "cuda",
    "data",
    "devices",
    "dtypes",
    "facts",
    "files",
    "fp_errors",
    "inspect",
    "interop",
    "io",
    "legacy",
    "linalg",
    "metrics",
    "nn",
    "onnx",
    "ops",
    "optim",
    "optional",
    "plot",
    "printing",
    "promotion",
    "random",
    "safetensors_format",
    "saved_objects",
    "size",
    "train",
    "utils",
]
LAZY_FUNCTIONS = {
    "load": "chainrule.io",
    "save": "chainrule.io",
    "summary": "chainrule.inspect.summary",
    "cosine_similarity": "chainrule.nn.functional",
    "rrelu": "chainrule.nn.functional",
    "rrelu_": "chainrule.nn.functional",
    "threshold": "chainrule.nn.functional",
    "threshold_": "chainrule.nn.functional",
    "lgamma": "chainrule.ops.gamma_functions",
    "digamma": "chainrule.ops.gamma_functions",
    "polygamma": "chainrule.ops.gamma_functions",
    "mvlgamma": "chainrule.ops.gamma_functions",
    "erfinv": "chainrule.ops.erfinv",
    "i0": "chainrule.ops.bessel",
    "logdet": "chainrule.ops.determinants",
    "slogdet": "chainrule.ops.determinants",
    "matrix_power": "chainrule.ops.determinants",
    "matrix_exp": "chainrule.ops.determinants",
    "cholesky": "chainrule.ops.linalg_old_names",
    "pinverse": "chainrule.ops.linalg_old_names",
    "qr": "chainrule.ops.linalg_old_names",
    "svd": "chainrule.ops.linalg_old_names",
}
# Packages above the tensor: none of them is needed to make and differentiate tensors.
DEFERRED = [
    "chainrule.nn",
    "chainrule.optim",
    "chainrule.train",
    "chainrule.data",
    "chainrule.utils",
    "chainrule.inspect",
    "chainrule.onnx",
    "chainrule.interop",
    "chainrule.io",
    "chainrule.metrics",
    "chainrule.plot",
    "chainrule.cli",
    "chainrule.distributions",
    "chainrule.special",
    "chainrule.ops.gamma_functions",
    "chainrule.ops.erfinv",
    "chainrule.ops.bessel",
    "chainrule.ops.decompositions",
    "chainrule.ops.determinants",
]
# Third-party packages that chainrule uses only on demand.
THIRD_PARTY = ["torch", "onnx", "onnxruntime", "scipy", "sklearn", "matplotlib", "tqdm"]
THIRD_PARTY += ["safetensors", "ml_dtypes", "yaml", "pandas"]
# Standard-library modules that NumPy does not import either: chainrule's import adds none.
STANDARD_LIBRARY = ["json", "csv", "multiprocessing", "subprocess", "tempfile", "shutil"]
STANDARD_LIBRARY += ["zipfile", "logging", "argparse", "urllib", "concurrent", "pathlib"]


def run(code: str) -> object:
    """Run ``code`` in a fresh interpreter; it prints one JSON value, returned here."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_leaves_the_upper_packages_and_optional_dependencies_unloaded() -> None:
    code = (
        "import sys\n"
        "import numpy, numpy.random\n"
        "numpy_modules = set(sys.modules)\n"
        "import chainrule\n"
        "loaded = set(sys.modules)\n"  # taken before json is imported to print it
        "added = sorted({m.split('.')[0] for m in loaded - numpy_modules})\n"
        "import json\n"
        "print(json.dumps({'loaded': sorted(loaded), 'added': added}))\n"
    )
    result = run(code)
    loaded, added = set(result["loaded"]), set(result["added"])
    assert not loaded & set(DEFERRED), sorted(loaded & set(DEFERRED))
    assert not {m.split(".")[0] for m in loaded} & set(THIRD_PARTY), sorted(loaded)
    assert not added & set(STANDARD_LIBRARY), sorted(added & set(STANDARD_LIBRARY))
    # The tensor and its operations are loaded and bound: the point of the import.
    assert {"chainrule.tensor", "chainrule.ops.elementwise", "chainrule.creation"} <= loaded


def test_every_public_name_is_reachable_as_before() -> None:
    code = (
        "import json, sys, types, chainrule\n"
        f"submodules = {SUBMODULES!r}\n"
        f"functions = {LAZY_FUNCTIONS!r}\n"
        "listed = set(dir(chainrule))\n"
        "bad = [n for n in submodules + list(functions) if n not in listed]\n"
        "for name in submodules:\n"
        "    value = getattr(chainrule, name)\n"
        "    if value is not sys.modules['chainrule.' + name]:\n"
        "        bad.append(name)\n"
        "for name, module in functions.items():\n"
        "    if getattr(chainrule, name) is not getattr(sys.modules[module], name):\n"
        "        bad.append(name)\n"
        "missing = [n for n in dir(chainrule) if not hasattr(chainrule, n)]\n"
        "print(json.dumps({'bad': bad, 'missing': missing}))\n"
    )
    assert run(code) == {"bad": [], "missing": []}


def test_the_documented_entry_points_work_after_a_bare_import() -> None:
    code = (
        "import json, chainrule\n"
        "from chainrule import nn, optim, save, summary\n"
        "import chainrule.nn.functional as F\n"
        "model = chainrule.nn.Sequential(nn.Linear(2, 3), chainrule.nn.ReLU())\n"
        "opt = chainrule.optim.SGD(model.parameters(), lr=0.1)\n"
        "checks = [\n"
        "    optim.SGD is chainrule.optim.SGD,\n"
        "    callable(chainrule.train.fit),\n"
        "    callable(chainrule.onnx.export),\n"
        "    callable(chainrule.inspect.trace),\n"
        "    chainrule.utils.data.DataLoader is chainrule.data.DataLoader,\n"
        "    save is chainrule.save and callable(chainrule.load),\n"
        "    summary is chainrule.summary,\n"
        "    chainrule.cosine_similarity is F.cosine_similarity,\n"
        "    tuple(model(chainrule.ones(4, 2)).shape) == (4, 3),\n"
        "]\n"
        "print(json.dumps(checks))\n"
    )
    assert run(code) == [True] * 9


def test_unknown_attributes_still_raise() -> None:
    code = (
        "import json, chainrule\n"
        "try:\n"
        "    chainrule.no_such_thing\n"
        "    result = 'no error'\n"
        "except AttributeError as error:\n"
        "    result = str(error)\n"
        "print(json.dumps(result))\n"
    )
    assert run(code) == "module 'chainrule' has no attribute 'no_such_thing'"
