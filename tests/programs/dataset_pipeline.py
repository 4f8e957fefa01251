"""A custom Dataset read item by item, split with Subset, joined with ConcatDataset, batched by
a DataLoader with a collate function, and a BatchSampler over a SequentialSampler."""

import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    SequentialSampler,
    Subset,
)

torch.manual_seed(0)  # the same initial weights on every run of the test


class Measurements(Dataset):
    """Rows of a table: three features and a class label, returned as (tensor, int)."""

    def __init__(self, rows, transform=None):
        self.rows = rows
        self.transform = transform

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, idx):
        if torch.is_tensor(idx):
            idx = idx.tolist()
        features = torch.tensor(self.rows[idx, :3], dtype=torch.float32)
        label = int(self.rows[idx, 3])
        if self.transform:
            features = self.transform(features)
        return features, label


def standardise(x):
    return (x - 0.5) * 2


rng = np.random.default_rng(0)
table = rng.random((300, 4))
table[:, 3] = (table[:, 0] + table[:, 1] > table[:, 2] + 0.5).astype(float)
first = Measurements(table[:150], transform=standardise)
second = Measurements(table[150:], transform=standardise)
everything = ConcatDataset([first, second])
train_set = Subset(everything, list(range(0, 240)))
val_set = Subset(everything, list(range(240, 300)))


def collate(batch):
    xs, ys = zip(*batch)
    return torch.stack(xs), torch.tensor(ys)


train_loader = DataLoader(train_set, batch_size=20, shuffle=False, num_workers=0, drop_last=True)
val_loader = DataLoader(
    val_set, batch_sampler=BatchSampler(SequentialSampler(val_set), 25, False), collate_fn=collate
)

model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 2))
path = os.environ["PROGRAM_WEIGHTS"]
if os.path.exists(path):
    model.load_state_dict({k: torch.tensor(v) for k, v in np.load(path).items()})
else:
    np.savez(path, **{k: v.detach().numpy() for k, v in model.state_dict().items()})
optimizer = torch.optim.RMSprop(model.parameters(), lr=0.01)

for epoch in range(5):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(data), target)
        loss.backward()
        optimizer.step()
    model.eval()
    val_loss, correct = 0.0, 0
    with torch.no_grad():
        for data, target in val_loader:
            output = model(data)
            val_loss += F.cross_entropy(output, target, reduction="sum").item()
            correct += (output.argmax(dim=1) == target).sum().item()
    val_loss /= len(val_loader.dataset)
    print(f"epoch {epoch}: val loss {val_loss:.4f}, accuracy {correct}/{len(val_set)}")
print(f"final loss {val_loss:.10e}")
