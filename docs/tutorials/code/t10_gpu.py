"""Tutorial 10, on a GPU: the same step on "cuda" as on the CPU, and one GPU per process.

Without a GPU this script runs "cuda" on chainrule's CPU emulator of CuPy, which follows
CuPy's rules (it refuses NumPy arrays mixed into GPU code): the results are the same, the
speed is not a GPU's.
"""

import os

import chainrule as cr
from chainrule import nn

# --8<-- [start:device]
if not cr.cuda.is_available():
    cr.cuda.emulate()  # no GPU here: the emulator stands in for CuPy
print("cuda on:", cr.cuda.get_device_name())


def train(device: str) -> list[float]:
    cr.manual_seed(0)  # the same weights and batches on either device
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1)).to(device)
    optimizer = cr.optim.SGD(model.parameters(), lr=0.5)
    x = cr.rand(256, 2) * 2 - 1  # made on the CPU, as data loaded from a file
    y = (x[:, :1] * x[:, 1:] > 0).float()  # the XOR of the signs
    x, y = x.to(device), y.to(device)
    losses = []
    for _ in range(100):
        optimizer.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()  # each node's backward runs where its forward ran
        optimizer.step()
        losses.append(loss.item())
    return losses


on_cpu, on_gpu = train("cpu"), train("cuda")
print(f"loss after 100 steps: cpu {on_cpu[-1]:.6f}, cuda {on_gpu[-1]:.6f}")
print("largest difference over the run:", max(abs(a - b) for a, b in zip(on_cpu, on_gpu)))
# --8<-- [end:device]

# --8<-- [start:ranks]
# One GPU per process: before Python starts, give each rank its own GPU with the launcher's
# local rank (MPICH's MPI_LOCALRANKID; Open MPI's OMPI_COMM_WORLD_LOCAL_RANK), so that every
# process sees one GPU, as cuda:0:
#   mpiexec -n 4 sh -c 'CUDA_VISIBLE_DEVICES=$MPI_LOCALRANKID python train.py'
# and in train.py, model.to("cuda") before DistributedDataParallel(model).
print("CUDA_VISIBLE_DEVICES =", os.environ.get("CUDA_VISIBLE_DEVICES", "(not set)"))
# --8<-- [end:ranks]
