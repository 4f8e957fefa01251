"""A word-level language model in the style of the classic example: batchify, get_batch,
an Embedding + GRU + Linear decoder, hidden states detached between batches, clipping and a
hand-written SGD step."""

import math
import os

import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)
text = (
    "the cat sat on the mat . the dog sat on the log . a cat and a dog met on the mat . "
    "the dog ran to the cat and the cat ran to the log . "
) * 6
words = text.split()
vocab = sorted(set(words))
word2idx = {w: i for i, w in enumerate(vocab)}
ids = torch.tensor([word2idx[w] for w in words], dtype=torch.long)


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()


def get_batch(source, i, bptt=8):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i : i + seq_len]
    target = source[i + 1 : i + 1 + seq_len].view(-1)
    return data, target


class RNNModel(nn.Module):
    def __init__(self, ntoken, ninp, nhid, nlayers):
        super(RNNModel, self).__init__()
        self.ntoken = ntoken
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.GRU(ninp, nhid, nlayers)
        self.decoder = nn.Linear(nhid, ntoken)
        self.nlayers, self.nhid = nlayers, nhid
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.encoder(input)
        output, hidden = self.rnn(emb, hidden)
        decoded = self.decoder(output)
        decoded = decoded.view(-1, self.ntoken)
        return nn.functional.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return weight.new_zeros(self.nlayers, bsz, self.nhid)


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


train_data = batchify(ids, 4)
model = RNNModel(len(vocab), 16, 32, 2)
path = os.environ["PROGRAM_WEIGHTS"]
if os.path.exists(path):
    model.load_state_dict({k: torch.tensor(v) for k, v in np.load(path).items()})
else:
    np.savez(path, **{k: v.detach().numpy() for k, v in model.state_dict().items()})
criterion = nn.NLLLoss()
lr = 2.0
for epoch in range(1, 4):
    model.train()
    total_loss = 0.0
    hidden = model.init_hidden(4)
    batches = 0
    for batch, i in enumerate(range(0, train_data.size(0) - 1, 8)):
        data, targets = get_batch(train_data, i)
        model.zero_grad()
        hidden = repackage_hidden(hidden)
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        total_loss += loss.item()
        batches += 1
    cur_loss = total_loss / batches
    print(f"| epoch {epoch:3d} | loss {cur_loss:5.2f} | ppl {math.exp(cur_loss):8.2f}")
print(f"final loss {cur_loss:.10e}")
