"""Tutorial 10: a training program that runs as several processes, each on its share of the data.

    mpiexec -n 2 python docs/tutorials/code/t10_train.py --out weights.safetensors
    python docs/tutorials/code/t10_train.py            # alone: one process does everything

Every process builds the same network and data set; DistributedDataParallel makes their
weights equal and averages their gradients, and DistributedSampler deals each its shard of
every epoch. Rank 0 prints and saves the weights. t10_scaling_out.py launches it.
"""

# --8<-- [start:program]
import argparse

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn, optim
from chainrule.data import DataLoader, spirals
from chainrule.train import evaluate, fit

parser = argparse.ArgumentParser(description="data-parallel training on the spirals")
parser.add_argument("--batch-size", type=int, default=16, help="samples per process per step")
parser.add_argument("--out", help="where rank 0 saves the trained weights")
args = parser.parse_args()

dist.init()  # which process am I (rank), of how many (world size)
rank, world = dist.get_rank(), dist.get_world_size()
cr.manual_seed(rank)  # different seeds on purpose: rank 0's weights are sent to the others

train, test = spirals(n=600, classes=3, seed=0)  # every process holds the whole data set
network = nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 3))
model = dist.DistributedDataParallel(network)  # copies rank 0's weights to every process
sampler = dist.DistributedSampler(train, shuffle=True, seed=0)  # this process's shard
loader = DataLoader(train, batch_size=args.batch_size, sampler=sampler)
optimizer = optim.Adam(model.parameters(), lr=0.02)

history = fit(model, nn.CrossEntropyLoss(), optimizer, loader, epochs=30, progress=False)

if dist.is_main_process():  # rank 0 alone prints and saves
    print(f"{world} process(es), {len(sampler)} samples each per epoch, {len(loader)} steps")
    losses = history.history["loss"]  # the mean over the processes, the same in each
    print("loss at epochs 1, 10, 20, 30:", [round(losses[i], 4) for i in (0, 9, 19, 29)])
    # The network itself, not the wrapper: the wrapper's forward may talk to the other
    # processes (broadcast_buffers), and here rank 0 computes alone.
    accuracy = evaluate(network, test, metrics=["accuracy"])["accuracy"]
    print(f"test accuracy {accuracy:.3f}")
    if args.out:
        cr.save(network.state_dict(), args.out)
dist.destroy_process_group()
# --8<-- [end:program]
