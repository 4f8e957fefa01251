"""Tutorial 10: how fast data-parallel training runs, measured in each process.

    mpiexec -n 2 python docs/tutorials/code/t10_speed.py --hidden 512 --steps 20 --blocks 5

Trains an MLP 784-H-H-10 on random data with a batch of 128 per process and prints, from
rank 0, one line of JSON for the median of the timed blocks: the number of processes, the
parameters, the samples per second of all processes together, and the share of the time
spent averaging gradients. The
t10_scaling_out.py script launches it with 1 and 2 processes.
"""

# --8<-- [start:speed]
import argparse
import json
import time

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn, optim

parser = argparse.ArgumentParser(description="samples per second of data-parallel training")
parser.add_argument("--hidden", type=int, default=512, help="width of the two hidden layers")
parser.add_argument("--steps", type=int, default=20, help="steps per timed block")
parser.add_argument("--blocks", type=int, default=5, help="timed blocks; the median is shown")
args = parser.parse_args()
BATCH = 128  # per process: R processes take R * 128 samples per step

dist.init()
rank, world = dist.get_rank(), dist.get_world_size()
hidden = args.hidden
network = nn.Sequential(
    nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 10)
)
model = dist.DistributedDataParallel(network)
averaging = 0.0  # seconds spent in the end-of-backward averaging
average = model.average_gradients


def timed_average() -> None:
    global averaging
    started = time.perf_counter()
    average()  # pack the gradients, Allreduce each bucket, divide by the world size
    averaging += time.perf_counter() - started


model.average_gradients = timed_average  # what backward() calls from now on
rng = np.random.default_rng(rank)  # each process its own random batch
x = cr.tensor(rng.standard_normal((BATCH, 784)).astype(np.float32))
y = cr.tensor(rng.integers(0, 10, BATCH))
loss_fn, optimizer = nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.01)


def step() -> None:
    optimizer.zero_grad()
    loss_fn(model(x), y).backward()
    optimizer.step()


for _ in range(3):  # warm up
    step()
blocks = []  # (seconds, seconds averaging) of each timed block of steps
for _ in range(args.blocks):
    dist.barrier()  # start together
    averaging, started = 0.0, time.perf_counter()
    for _ in range(args.steps):
        step()
    dist.barrier()
    blocks.append((time.perf_counter() - started, averaging))
elapsed, averaging = sorted(blocks)[len(blocks) // 2]  # the median block
if rank == 0:
    figures = {
        "processes": world,
        "parameters": sum(p.numel() for p in network.parameters()),
        "samples_per_s": world * BATCH * args.steps / elapsed,
        "averaging_share": averaging / elapsed,
    }
    print(json.dumps(figures))
dist.destroy_process_group()
# --8<-- [end:speed]
