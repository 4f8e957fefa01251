"""Tutorial 9: keeping, resuming and exporting a model.

A model trained on the spirals is saved as a state dict (a safetensors file, never a pickle)
and loaded into a fresh network; a run stopped after 2 epochs is resumed to 4 and compared,
bit for bit, with 4 epochs straight; the ``chainrule`` command trains, predicts and summarises
a model of a CSV file; and the model is exported to ONNX and run by ONNX Runtime.

    python docs/tutorials/code/t09_keep_resume_export.py [--out DIR] [--work WORK]

The picture goes to DIR (default: docs/images of the repository); the model, CSV and ONNX files
to --work WORK (default: a temporary folder, removed at the end). Seeded: the same output on
every run on one machine.
"""

# --8<-- [start:setup]
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import spirals
from chainrule.train import fit

ROOT = Path(__file__).resolve().parents[3]
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="the picture")
parser.add_argument("--work", type=Path, help="the model, CSV and ONNX files (default: temporary)")
args = parser.parse_args()
out = args.out
out.mkdir(parents=True, exist_ok=True)
scratch = tempfile.TemporaryDirectory(prefix="t09_")  # removed when the script ends
work = args.work or Path(scratch.name)
work.mkdir(parents=True, exist_ok=True)

train, test = spirals(n=600, classes=3, seed=0)
loss_fn = nn.CrossEntropyLoss()


def make_model() -> nn.Module:
    """Two inputs, 3 class scores; Dropout makes the run depend on the random generator."""
    return nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 3))


# --8<-- [end:setup]

# --8<-- [start:save]
cr.manual_seed(0)
model = make_model()
optimizer = optim.Adam(model.parameters(), lr=0.01)
fit(model, loss_fn, optimizer, train, epochs=30, progress=False)

weights = work / "t09_spirals.safetensors"
cr.save(model.state_dict(), weights)  # written to a temporary file, then renamed

fresh = make_model()  # new random weights...
fresh.load_state_dict(cr.load(weights))  # ...replaced by the saved ones
model.eval()
fresh.eval()  # Dropout off: the same input gives the same output
x_test, y_test = test.tensors
same = cr.equal(model(x_test), fresh(x_test))
accuracy = (fresh(x_test).argmax(dim=1) == y_test).float().mean().item()
print(f"saved {weights.name}: {weights.stat().st_size} bytes")
print(f"reloaded model gives the same outputs: {same}; test accuracy {accuracy:.3f}")
# --8<-- [end:save]

# --8<-- [start:header]
# A safetensors file is an 8-byte little-endian length, a JSON header, then the raw numbers:
# nothing in it is run when it is read, unlike a pickle.
raw = weights.read_bytes()
length = int.from_bytes(raw[:8], "little")
header = json.loads(raw[8 : 8 + length])
for name, entry in header.items():
    if name != "__metadata__":
        print(f"  {name:10s} {entry['dtype']} {entry['shape']}")
# --8<-- [end:header]

# --8<-- [start:nested]
# Any nesting of dicts, lists and tuples of tensors, numbers, strings and None is kept the same
# way: the tensors as tensors, the structure as JSON in the header.
bundle = {
    "model": model.state_dict(),
    "optimizer": optimizer.state_dict(),
    "classes": ["arm 0", "arm 1", "arm 2"],
    "accuracy": accuracy,
}
cr.save(bundle, work / "t09_bundle.safetensors")
back = cr.load(work / "t09_bundle.safetensors")
adam_steps = back["optimizer"]["state"][0]["step"]
print(f"bundle keys {list(back)}; classes {back['classes']}; Adam's step count {adam_steps}")
# --8<-- [end:nested]


# --8<-- [start:resume]
def run(epochs: int, **keep) -> tuple[nn.Module, dict]:
    """A run from the same seed: Dropout, shuffling and a decaying learning rate, so that a
    resume must restore the optimiser, the scheduler and the random generators to match."""
    cr.manual_seed(0)
    model = make_model()
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.8)
    history = fit(
        model, loss_fn, optimizer, train, epochs, scheduler=scheduler, progress=False, **keep
    )
    return model, history.history


checkpoint = work / "t09_run.safetensors"
run(2, checkpoint=checkpoint)  # ...the process stops here...
cr.rand(1000)  # the random generator moves on, as it would in another program
resumed, resumed_history = run(4, resume_from=checkpoint)  # epochs 3 and 4
straight, straight_history = run(4)  # epochs 1 to 4 in one go

identical = all(cr.equal(a, b) for a, b in zip(resumed.parameters(), straight.parameters()))
print(f"2 epochs + resume to 4 == 4 straight, bit for bit: {identical}")
print("loss per epoch, resumed: ", [round(v, 4) for v in resumed_history["loss"]])
print("loss per epoch, straight:", [round(v, 4) for v in straight_history["loss"]])
# --8<-- [end:resume]

# --8<-- [start:plot]
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

epochs = np.arange(1, 5)
figure, axes = plt.subplots(figsize=(6, 3.6))
axes.plot(epochs, straight_history["loss"], "-", lw=6, alpha=0.35, label="4 epochs straight")
axes.plot(epochs[:2], resumed_history["loss"][:2], "o", ms=8, label="epochs 1-2, then stopped")
axes.plot(epochs[2:], resumed_history["loss"][2:], "s", ms=8, label="epochs 3-4, resumed")
axes.set(xlabel="epoch", ylabel="training loss", xticks=epochs)
axes.set_title("A resumed run retraces the uninterrupted one")
axes.legend()
figure.tight_layout()
figure.savefig(out / "t09_keep_resume_export_resume.png", dpi=120)
plt.close(figure)
# --8<-- [end:plot]


# --8<-- [start:cli]
def chainrule_command(*words: str) -> str:
    """Run ``chainrule WORDS...`` (as ``python -m chainrule.cli``) in work; return its output."""
    command = [sys.executable, "-m", "chainrule.cli", *words]
    done = subprocess.run(command, capture_output=True, text=True, cwd=work)
    if done.returncode != 0:
        sys.exit(f"chainrule {' '.join(words)} failed: {done.stderr.strip()}")
    return done.stdout


# A small table: the price of a flat from its area, its rooms and its age.
rng = np.random.default_rng(0)
area = rng.uniform(30, 120, 400)
rooms = rng.integers(1, 5, 400)
age = rng.uniform(0, 50, 400)
price = 2.0 * area + 15 * rooms - 0.8 * age + rng.normal(0, 5, 400)
table = np.column_stack([area, rooms, age, price])
csv = {"delimiter": ",", "comments": "", "fmt": "%.2f"}
np.savetxt(work / "t09_flats.csv", table, header="area,rooms,age,price", **csv)
np.savetxt(work / "t09_new_flats.csv", table[:3, :3], header="area,rooms,age", **csv)

report = chainrule_command(
    "train", "--data", "t09_flats.csv", "--target", "price", "--epochs", "40",
    "--out", "t09_cli", "--save", "t09_price.safetensors", "--no-progress",
)  # fmt: skip
print(report[report.index("stopped") :].split("saved")[0])  # the end of the run and its scores
print(chainrule_command("predict", "t09_price.safetensors", "t09_new_flats.csv"))
print("true prices:", np.round(price[:3], 2))
print(chainrule_command("summary", "t09_price.safetensors"))
# --8<-- [end:cli]

# --8<-- [start:cli_resume]
# The same run stopped after 20 epochs, then resumed to 40 by a new process of its own.
chainrule_command(
    "train", "--data", "t09_flats.csv", "--target", "price", "--epochs", "20",
    "--out", "t09_cli_stop", "--no-progress",
)  # fmt: skip
chainrule_command(
    "train", "--data", "t09_flats.csv", "--target", "price", "--epochs", "40",
    "--out", "t09_cli_stop", "--resume", "t09_cli_stop/checkpoint.safetensors", "--no-progress",
)  # fmt: skip
straight_file = cr.load(work / "t09_price.safetensors")
resumed_file = cr.load(work / "t09_cli_stop" / "model.safetensors")
same_files = all(cr.equal(straight_file[name], resumed_file[name]) for name in straight_file)
print(f"chainrule train: 20 epochs + --resume to 40 == 40 straight, bit for bit: {same_files}")
# --8<-- [end:cli_resume]

# --8<-- [start:onnx]
try:
    import onnx  # noqa: F401 - the exporter's, imported here only to know it is there
    import onnxruntime
except ImportError:
    onnxruntime = None
    print('ONNX export skipped: it needs onnx and onnxruntime: pip install "chainrule[onnx]"')

if onnxruntime is not None:
    onnx_file = work / "t09_spirals.onnx"
    cr.onnx.export(
        model,
        cr.randn(1, 2),  # an example input: the trace follows it through the layers
        onnx_file,
        input_names=["x"],
        output_names=["logits"],
        dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},  # any batch size
    )
    session = onnxruntime.InferenceSession(str(onnx_file))
    (onnx_logits,) = session.run(None, {"x": x_test.numpy()})
    ours = model(x_test).detach().numpy()  # model is in eval mode, as the export traced it
    difference = np.abs(onnx_logits - ours).max()
    print(f"ONNX Runtime on {len(x_test)} test points: largest difference {difference:.1e}")
    print(f"same predicted classes: {(onnx_logits.argmax(1) == ours.argmax(1)).all()}")
# --8<-- [end:onnx]

# --8<-- [start:onnx_cli]
if onnxruntime is not None:
    print(chainrule_command("export", "t09_price.safetensors", "--onnx", "t09_price.onnx"))
    session = onnxruntime.InferenceSession(str(work / "t09_price.onnx"))
    new_flats = table[:3, :3].round(2).astype(np.float32)  # the rows of t09_new_flats.csv
    (onnx_prices,) = session.run(None, {"input": new_flats})
    print("ONNX Runtime's prices:", onnx_prices.ravel())
# --8<-- [end:onnx_cli]
