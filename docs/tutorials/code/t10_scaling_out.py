"""Tutorial 10: scaling out, from the chain rule to processes that train together.

The gradient of a mean over a batch is the mean of the gradients of its shards, checked in one
process; t10_train.py then runs as 2 processes on batches of 16 each and as 1 process on
batches of 32, and the two trained networks are compared; t10_speed.py measures samples per
second with 1 and 2 processes, for a small network and a large one.

    python docs/tutorials/code/t10_scaling_out.py [--ranks 2] [--work WORK]

It needs mpiexec (pip install "chainrule[mpi]"). The weights go to --work WORK (default: a
temporary folder, removed at the end). Training is seeded; the speeds are this machine's.
"""

# --8<-- [start:setup]
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import chainrule as cr
from chainrule import nn

CODE = Path(__file__).resolve().parent
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--ranks", type=int, default=2, help="processes for the parallel runs")
parser.add_argument("--work", type=Path, help="the weights files (default: temporary)")
args = parser.parse_args()
scratch = tempfile.TemporaryDirectory(prefix="t10_")  # removed when the script ends
work = args.work or Path(scratch.name)
work.mkdir(parents=True, exist_ok=True)


def mpiexec() -> str:
    """The mpiexec of this Python's environment (the mpich wheel puts it there), or PATH's."""
    beside = Path(sys.executable).parent / "mpiexec"
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:
        sys.exit('mpiexec not found: pip install "chainrule[mpi]"')
    return found


def launch(ranks: int, script: str, *words: str) -> str:
    """Run ``script`` as ``ranks`` processes, each with one BLAS thread; return its output."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    command = [mpiexec(), "-n", str(ranks), sys.executable, str(CODE / script), *words]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


# --8<-- [end:setup]

# --8<-- [start:chain_rule]
cr.manual_seed(0)
network = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 3)).double()
x, y = cr.randn(8, 2, dtype=cr.float64), cr.randint(0, 3, (8,))
loss_fn = nn.CrossEntropyLoss()  # C: the mean of the samples' losses


def gradient(rows: slice) -> list[cr.Tensor]:
    """∂C/∂w for every weight w, with C the mean loss over the samples x[rows]."""
    network.zero_grad()
    loss_fn(network(x[rows]), y[rows]).backward()
    return [p.grad.clone() for p in network.parameters()]


def largest_difference(these: list[cr.Tensor], those: list[cr.Tensor]) -> float:
    return max((a - b).abs().max().item() for a, b in zip(these, those))


whole = gradient(slice(0, 8))
first, second = gradient(slice(0, 4)), gradient(slice(4, 8))  # two processes, 4 samples each
averaged = [(a + b) / 2 for a, b in zip(first, second)]
print(f"shards of 4 and 4, mean: {largest_difference(averaged, whole):.1e}")
first, second = gradient(slice(0, 5)), gradient(slice(5, 8))  # shards of 5 and 3 samples
plain = [(a + b) / 2 for a, b in zip(first, second)]
weighted = [(5 * a + 3 * b) / 8 for a, b in zip(first, second)]
print(f"shards of 5 and 3, mean: {largest_difference(plain, whole):.1e}")
print(f"shards of 5 and 3, weighted 5:3: {largest_difference(weighted, whole):.1e}")
# --8<-- [end:chain_rule]

# --8<-- [start:launch]
parallel, single = work / "parallel.safetensors", work / "single.safetensors"
print(f"$ mpiexec -n {args.ranks} python t10_train.py --batch-size 16")
print(launch(args.ranks, "t10_train.py", "--batch-size", "16", "--out", str(parallel)))
print(f"$ mpiexec -n 1 python t10_train.py --batch-size {16 * args.ranks}")
print(launch(1, "t10_train.py", "--batch-size", str(16 * args.ranks), "--out", str(single)))
a, b = cr.load(parallel), cr.load(single)
difference = largest_difference([a[name] for name in a], [b[name] for name in a])
print(f"largest difference between the two trained networks' weights: {difference:.1e}")
# --8<-- [end:launch]

# --8<-- [start:speed]
print("         network  parameters  processes  samples/s  speed-up  averaging")
for hidden, steps in ((32, 200), (512, 20)):  # blocks of about a tenth of a second
    alone = None
    for ranks in (1, args.ranks):
        output = launch(ranks, "t10_speed.py", "--hidden", str(hidden), "--steps", str(steps))
        figures = json.loads(output.splitlines()[-1])
        speed = figures["samples_per_s"]
        alone = alone or speed  # the first run, with one process
        print(
            f"{f'784-{hidden}-{hidden}-10':>16}  {figures['parameters']:>10,}  {ranks:>9}  "
            f"{speed:>9,.0f}  {speed / alone:>8.2f}  {figures['averaging_share']:>9.0%}"
        )
# --8<-- [end:speed]
