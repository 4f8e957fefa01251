"""Tutorial 8: coming from PyTorch.

A small PyTorch training script (a CNN on 8×8 pictures of bars, Adam, StepLR, gradient
clipping, a DataLoader) runs unchanged on chainrule. When PyTorch is installed the script runs
it on both libraries from the same initial weights and prints how far apart the numbers are;
without PyTorch it says so and runs chainrule alone. Then it checks, one by one, the
differences and the missing pieces that the tutorial lists.

    python docs/tutorials/code/t08_from_pytorch.py [--out DIR]

The ``--out`` folder gets a picture of the two runs' losses (default: docs/images).
"""

from __future__ import annotations

import argparse
import importlib
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parents[3]


# --8<-- [start:data]
def make_data(seed: int = 0) -> dict[str, numpy.ndarray]:
    """8×8 gray pictures of one bar each: horizontal, vertical, diagonal or anti-diagonal
    (class 0-3), at a random place, with noise. x: (N, 1, 8, 8) float32, y: (N,) int64."""
    generator = numpy.random.default_rng(seed)
    count = 640
    labels = generator.integers(0, 4, size=count)
    images = 0.3 * generator.standard_normal((count, 1, 8, 8))
    rows = numpy.arange(8)
    for i, (label, place) in enumerate(zip(labels, generator.integers(0, 8, size=count))):
        if label == 0:
            images[i, 0, place, :] += 1.0
        elif label == 1:
            images[i, 0, :, place] += 1.0
        elif label == 2:
            images[i, 0, rows, (rows + place) % 8] += 1.0
        else:
            images[i, 0, rows, (place - rows) % 8] += 1.0
    images = images.astype(numpy.float32)
    return {
        "x_train": images[:512],
        "y_train": labels[:512],
        "x_test": images[512:],
        "y_test": labels[512:],
    }


# --8<-- [end:data]


# --8<-- [start:program]
def program(torch: ModuleType, data: dict, initial_state: dict | None, epochs: int = 5) -> dict:
    """An ordinary PyTorch training script. ``torch`` is the library it runs on: PyTorch,
    or chainrule imported as ``import chainrule as torch``. Nothing else changes."""
    nn = torch.nn
    F = torch.nn.functional  # PyTorch's usual names
    DataLoader = torch.utils.data.DataLoader
    TensorDataset = torch.utils.data.TensorDataset

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 8, kernel_size=3, padding=1)
            self.fc1 = nn.Linear(8 * 4 * 4, 32)
            self.fc2 = nn.Linear(32, 4)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv(x)), 2)  # (N, 8, 4, 4)
            x = torch.flatten(x, 1)
            return self.fc2(F.relu(self.fc1(x)))

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = Net()
    if initial_state is not None:  # the same start in both libraries: their random numbers differ
        model.load_state_dict({k: torch.tensor(v) for k, v in initial_state.items()})
    model.to(device)

    train_set = TensorDataset(torch.from_numpy(data["x_train"]), torch.from_numpy(data["y_train"]))
    train_loader = DataLoader(train_set, batch_size=32, shuffle=False)
    x_test = torch.from_numpy(data["x_test"]).to(device)
    y_test = torch.from_numpy(data["y_test"]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)

    history = {"train_loss": [], "test_loss": [], "accuracy": []}
    for _ in range(epochs):
        model.train()
        total = 0.0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            total += loss.item() * len(x)
        scheduler.step()
        model.eval()
        with torch.no_grad():
            logits = model(x_test)
            test_loss = F.cross_entropy(logits, y_test).item()
            accuracy = (logits.argmax(dim=1) == y_test).float().mean().item()
        history["train_loss"].append(total / len(train_set))
        history["test_loss"].append(test_loss)
        history["accuracy"].append(accuracy)
    history["weights"] = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    return history


# --8<-- [end:program]


# --8<-- [start:run_both]
def import_pytorch() -> ModuleType | None:
    """PyTorch if it is installed, else None (this tutorial runs without it)."""
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


def run_both(pytorch: ModuleType | None) -> dict[str, dict]:
    """The program on chainrule, and on PyTorch when it is installed; the two side by side."""
    import chainrule as torch  # the one line that changes: `import torch`

    torch.manual_seed(0)
    data = make_data()
    start = program(torch, data, None, epochs=0)["weights"]  # chainrule's initial weights
    runs = {"chainrule": program(torch, data, start)}
    if pytorch is None:
        print("PyTorch is not installed (pip install torch): running chainrule only.")
    else:
        print(f"PyTorch {pytorch.__version__} is installed: running the program on both.")
        runs["PyTorch"] = program(pytorch, data, start)
    print(f"{'epoch':>5} {'library':>9} {'train loss':>12} {'test loss':>12} {'accuracy':>8}")
    for epoch in range(len(runs["chainrule"]["train_loss"])):
        for name, run in runs.items():
            print(
                f"{epoch + 1:>5} {name:>9} {run['train_loss'][epoch]:>12.8f} "
                f"{run['test_loss'][epoch]:>12.8f} {run['accuracy'][epoch]:>8.4f}"
            )
    if pytorch is not None:
        ours, theirs = runs["chainrule"], runs["PyTorch"]
        losses = numpy.array(ours["train_loss"] + ours["test_loss"])
        other = numpy.array(theirs["train_loss"] + theirs["test_loss"])
        relative = numpy.max(numpy.abs(losses - other) / numpy.abs(other))
        weights = max(
            numpy.max(numpy.abs(ours["weights"][name] - theirs["weights"][name]))
            for name in ours["weights"]
        )
        print(f"largest relative difference of a loss: {relative:.2e}")
        print(f"largest difference of a final weight:  {weights:.2e}")
    return runs


# --8<-- [end:run_both]


def plot_runs(runs: dict[str, dict], path: Path) -> None:
    """The train and test losses per epoch of each library (on top of each other when equal)."""
    figure = Figure(figsize=(7, 4.2), layout="constrained")
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    styles = {"chainrule": {"linewidth": 5, "alpha": 0.4}, "PyTorch": {"linestyle": "--"}}
    for name, run in runs.items():
        epochs = range(1, len(run["train_loss"]) + 1)
        axis.plot(epochs, run["train_loss"], color="C0", label=f"{name}: train", **styles[name])
        axis.plot(epochs, run["test_loss"], color="C3", label=f"{name}: test", **styles[name])
    axis.set(xlabel="epoch", ylabel="cross-entropy", xticks=list(epochs))
    axis.set_title("The same program on chainrule and PyTorch")
    axis.grid(True, alpha=0.3)
    axis.legend()
    figure.savefig(path, dpi=100)


# --8<-- [start:outcome]
def outcome(action: Callable[[], object]) -> str:
    """What calling ``action()`` gives: its value, or the error it raises (its first line)."""
    try:
        with warnings.catch_warnings():
            # PyTorch warns about NumPy 2's __array_wrap__ in the mixed NumPy checks below.
            warnings.simplefilter("ignore", DeprecationWarning)
            return repr(action())
    except Exception as error:
        return f"{type(error).__name__}: {str(error).splitlines()[0][:100]}..."


def show(what: str, chainrule_answer: str | None, pytorch_answer: str | None = None) -> None:
    """What chainrule gives, then what PyTorch gives (each when there is one)."""
    print(what)
    if chainrule_answer is not None:
        print(f"    chainrule: {chainrule_answer}")
    if pytorch_answer is not None:
        print(f"    PyTorch:   {pytorch_answer}")


# --8<-- [end:outcome]


# --8<-- [start:differences]
def check_differences(pytorch: ModuleType | None) -> None:
    """The differences the tutorial lists, each run on chainrule (and PyTorch, if here)."""
    import chainrule as torch

    def both(what: str, action: Callable[[ModuleType], object]) -> None:
        theirs = None if pytorch is None else outcome(lambda: action(pytorch))
        show(what, outcome(lambda: action(torch)), theirs)

    def seeded_randn(library: ModuleType) -> object:
        library.manual_seed(0)
        return library.randn(3).numpy()

    both("get_default_dtype()", lambda t: t.get_default_dtype())
    both("tensor([1, 2]).dtype", lambda t: t.tensor([1, 2]).dtype)
    both("manual_seed(0); randn(3)", seeded_randn)
    both("cuda.is_available()", lambda t: t.cuda.is_available())
    show("zeros(2, device='cuda')", outcome(lambda: torch.zeros(2, device="cuda")))
    for name in ("float16", "bfloat16", "float64", "int32", "bool"):
        both(f"ones(2, dtype={name}).dtype", lambda t, n=name: t.ones(2, dtype=getattr(t, n)).dtype)
    both(
        "(ones(2, 2, dtype=bfloat16) @ ones(2, 2, dtype=bfloat16)).dtype",
        lambda t: (t.ones(2, 2, dtype=t.bfloat16) @ t.ones(2, 2, dtype=t.bfloat16)).dtype,
    )
    both("tensor([1 + 2j])", lambda t: t.tensor([1 + 2j]))
    both("nn.Embedding(10, 3, sparse=True)", lambda t: t.nn.Embedding(10, 3, sparse=True))
    both("device('cpu') == 'cpu'", lambda t: t.device("cpu") == "cpu")
    both(
        "(zeros(2) + numpy.array([1, 2])).dtype", lambda t: (t.zeros(2) + numpy.array([1, 2])).dtype
    )
    both("type(numpy.ones(2) + ones(2))", lambda t: type(numpy.ones(2) + t.ones(2)).__name__)


# --8<-- [end:differences]


# --8<-- [start:files]
def check_files(pytorch: ModuleType | None) -> None:
    """torch.save here writes safetensors, not pickle: the two libraries' files do not mix."""
    import chainrule as torch

    with tempfile.TemporaryDirectory() as name:
        ours, theirs = Path(name) / "chainrule.pt", Path(name) / "pytorch.pt"
        torch.save({"w": torch.ones(2)}, ours)
        header = ours.read_bytes()[8:10]  # after the 8-byte length: JSON
        show("save() writes safetensors (a JSON header, no pickle)", repr(header == b'{"'))
        if pytorch is None:
            return
        pytorch.save({"w": pytorch.ones(2)}, theirs)
        show(
            "load() of the other library's file",
            outcome(lambda: torch.load(theirs)),
            outcome(lambda: pytorch.load(ours)),
        )
        try:
            from safetensors.torch import load_file
        except ImportError:
            return
        show(
            "safetensors.torch.load_file() of chainrule's file",
            None,
            outcome(lambda: load_file(ours)),
        )


# --8<-- [end:files]


# --8<-- [start:compile]
def check_compile() -> None:
    """torch.compile(model) gives the model back, run eagerly, so a ported script trains as
    before. What chainrule.compile records and replays is a whole training step."""
    import chainrule as torch

    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    compiled = torch.compile(model)  # PyTorch 2's habit
    x = torch.ones(1, 2)
    show("compile(model) is model", repr(compiled is model))
    calls = [compiled(x).requires_grad for _ in range(4)]
    show("compile(model)(x).requires_grad, calls 1 to 4", repr(calls))
    compiled(x).sum().backward()
    show("compile(model)(x).sum().backward(); weight.grad", repr(model.weight.grad.tolist()))

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    loss_fn = torch.nn.MSELoss()
    inputs, targets = torch.randn(64, 2), torch.randn(64, 1)
    start = {k: v.clone() for k, v in net.state_dict().items()}

    @torch.compile
    def step(x, y):  # the whole training step: chainrule replays this
        optimizer.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        optimizer.step()
        return loss

    replayed = [step(inputs, targets).item() for _ in range(5)]
    show("@compile step: losses of calls 1 to 5", ", ".join(f"{v:.8f}" for v in replayed))
    show(
        "step's recordings, replays, eager calls",
        f"{step.recordings}, {step.replays}, {step.eager_calls}",
    )
    net.load_state_dict(start)  # the same start, then the step run eagerly (undecorated)
    eager = [step.__wrapped__(inputs, targets).item() for _ in range(5)]
    show("the same 5 steps run eagerly, equal bit for bit", repr(eager == replayed))


# --8<-- [end:compile]


# --8<-- [start:speed]
def check_half_precision_speed() -> None:
    """NumPy has no fast float16 matrix product on the CPU: half precision saves memory only."""
    import chainrule as torch

    def best_time(a: object, repeats: int) -> float:
        times = []
        for _ in range(repeats):
            begin = time.perf_counter()
            a @ a
            times.append(time.perf_counter() - begin)
        return min(times)  # the least disturbed by other work on the machine

    torch.manual_seed(0)
    a = torch.randn(256, 256)
    half, single = best_time(a.half(), 3), best_time(a, 30)
    show(
        "256×256 matrix product: float16's time, float32's, and their ratio",
        f"{half * 1e3:.3g} ms, {single * 1e3:.3g} ms, {half / single:.0f}",
    )


# --8<-- [end:speed]


# --8<-- [start:missing]
MISSING = [
    "jit",
    "vmap",
    "func.vmap",
    "fft",
    "hub",
    "profiler",
    "sparse",
    "sparse_coo_tensor",
    "complex64",
    "amp",
    "autocast",
    "export",
    "fx",
    "nested",
    "quantization",
]
THERE = [
    "compile",
    "func.grad",
    "func.jacrev",
    "func.jacfwd",
    "func.hessian",
    "func.functional_call",
    "autograd.functional.hessian",
    "autograd.Function",
    "linalg.solve",
    "onnx.export",
    "utils.data.DataLoader",
    "nn.utils.clip_grad_norm_",
    "nn.parallel.DistributedDataParallel",
    "save",
    "load",
]


def check_missing(pytorch: ModuleType | None) -> None:
    """Which of PyTorch's modules and functions chainrule has, looked up by name."""
    import chainrule as torch

    def found(names: list[str], library: ModuleType | None) -> str | None:
        if library is None:
            return None
        return ", ".join(n for n in names if has(library, n)) or "none"

    show("of the missing list, these exist", found(MISSING, torch), found(MISSING, pytorch))
    show("of the present list, these exist", found(THERE, torch), found(THERE, pytorch))


def has(module: ModuleType, dotted: str) -> bool:
    """Whether ``module.a.b`` exists, importing submodules on the way as ``import`` would."""
    value = module
    for part in dotted.split("."):
        if not hasattr(value, part) and isinstance(value, ModuleType):
            try:
                importlib.import_module(f"{value.__name__}.{part}")
            except ImportError:
                return False
        value = getattr(value, part, None)
        if value is None:
            return False
    return True


# --8<-- [end:missing]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Tutorial 8: coming from PyTorch.")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "images", help="folder for the picture"
    )
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    pytorch = import_pytorch()
    print("1. The same program on both libraries")
    runs = run_both(pytorch)
    plot_runs(runs, out / "t08_from_pytorch_losses.png")
    print("\n2. What differs")
    check_differences(pytorch)
    check_files(pytorch)
    check_compile()
    check_half_precision_speed()
    print("\n3. What is missing")
    check_missing(pytorch)
    print(f"\nwrote {out / 't08_from_pytorch_losses.png'}")


if __name__ == "__main__":
    main()
