"""Classifying variable-length sequences with an LSTM over packed batches: pad_sequence,
pack_padded_sequence (unsorted lengths), and the last hidden state of each sequence."""

import os

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

torch.manual_seed(0)  # the same initial weights on every run of the test

rng = np.random.default_rng(0)
sequences, labels = [], []
for _ in range(60):
    n = int(rng.integers(3, 10))
    seq = rng.standard_normal((n, 3)).astype(np.float32)
    sequences.append(torch.from_numpy(seq))
    labels.append(int(seq[:, 0].sum() > 0))
labels = torch.tensor(labels)


class SequenceClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(input_size=3, hidden_size=12, batch_first=True)
        self.head = nn.Linear(12, 2)

    def forward(self, padded, lengths):
        packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
        packed_out, (h_n, c_n) = self.lstm(packed)
        out, out_lengths = pad_packed_sequence(packed_out, batch_first=True)
        assert out.shape[1] == int(max(lengths))
        return self.head(h_n[-1])


model = SequenceClassifier()
path = os.environ["PROGRAM_WEIGHTS"]
if os.path.exists(path):
    model.load_state_dict({k: torch.tensor(v) for k, v in np.load(path).items()})
else:
    np.savez(path, **{k: v.detach().numpy() for k, v in model.state_dict().items()})
optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(8):
    for start in range(0, 60, 20):
        batch = sequences[start : start + 20]
        lengths = torch.tensor([len(s) for s in batch])
        padded = pad_sequence(batch, batch_first=True)
        optimizer.zero_grad()
        loss = loss_fn(model(padded, lengths), labels[start : start + 20])
        loss.backward()
        optimizer.step()
    print(f"epoch {epoch}: loss {loss.item():.4f}")
print(f"final loss {loss.item():.10e}")
