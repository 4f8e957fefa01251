"""chainrule.summary: torchinfo's default table (its documented output for the same network),
parameter totals equal to PyTorch's for the same model, sizes computed as torchinfo computes
them, and a forward pass that leaves the model as it found it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr


def single_input_net(m: Any) -> Any:
    """torchinfo's test network (SingleInputNet), in either library."""
    functional = m.functional

    class SingleInputNet(m.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = m.Conv2d(1, 10, kernel_size=5)
            self.conv2 = m.Conv2d(10, 20, kernel_size=5)
            self.conv2_drop = m.Dropout2d(0.3)
            self.fc1 = m.Linear(320, 50)
            self.fc2 = m.Linear(50, 10)

        def forward(self, x: Any) -> Any:
            x = functional.relu(functional.max_pool2d(self.conv1(x), 2))
            x = functional.relu(functional.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
            x = x.view(-1, 320)
            x = functional.relu(self.fc1(x))
            x = functional.dropout(x, training=self.training)
            return functional.log_softmax(self.fc2(x), dim=1)

    return SingleInputNet()


# torchinfo 1.8's output for summary(SingleInputNet(), input_size=(16, 1, 28, 28)), as its
# documentation and test files show it.
SINGLE_INPUT = """\
==========================================================================================
Layer (type:depth-idx)                   Output Shape              Param #
==========================================================================================
SingleInputNet                           [16, 10]                  --
├─Conv2d: 1-1                            [16, 10, 24, 24]          260
├─Conv2d: 1-2                            [16, 20, 8, 8]            5,020
├─Dropout2d: 1-3                         [16, 20, 8, 8]            --
├─Linear: 1-4                            [16, 50]                  16,050
├─Linear: 1-5                            [16, 10]                  510
==========================================================================================
Total params: 21,840
Trainable params: 21,840
Non-trainable params: 0
Total mult-adds (M): 7.69
==========================================================================================
Input size (MB): 0.05
Forward/backward pass size (MB): 0.91
Params size (MB): 0.09
Estimated Total Size (MB): 1.05
=========================================================================================="""

# Without an input: no forward pass, the module tree with parameter counts only.
SINGLE_INPUT_NO_FORWARD = """\
=================================================================
Layer (type:depth-idx)                   Param #
=================================================================
SingleInputNet                           --
├─Conv2d: 1-1                            260
├─Conv2d: 1-2                            5,020
├─Dropout2d: 1-3                         --
├─Linear: 1-4                            16,050
├─Linear: 1-5                            510
=================================================================
Total params: 21,840
Trainable params: 21,840
Non-trainable params: 0
================================================================="""


def test_the_table_is_torchinfos(capsys: pytest.CaptureFixture) -> None:
    model = single_input_net(cr.nn)
    result = cr.summary(model, input_size=(16, 1, 28, 28))
    assert capsys.readouterr().out == SINGLE_INPUT + "\n"
    assert str(result) == repr(result) == SINGLE_INPUT
    reference = single_input_net(torch.nn)
    total = sum(p.numel() for p in reference.parameters())
    assert result.total_params == result.trainable_params == total == 21840
    assert result.non_trainable_params == 0
    # The sizes as torchinfo computes them: float32 inputs, outputs of the layers with
    # parameters twice (values and gradients), parameters.
    assert result.total_input == 16 * 28 * 28 * 4
    assert result.total_output_bytes == 2 * 4 * 16 * (10 * 24 * 24 + 20 * 8 * 8 + 50 + 10)
    assert result.total_param_bytes == 4 * total
    # Multiply-adds: convolution weights at every output position, the rest once per sample.
    assert result.total_mult_adds == 16 * (250 * 576 + 10 + 5000 * 64 + 20 + 16050 + 510)


def test_without_an_input_only_parameters_show(capsys: pytest.CaptureFixture) -> None:
    result = cr.summary(single_input_net(cr.nn), verbose=0)
    assert capsys.readouterr().out == ""
    assert str(result) == SINGLE_INPUT_NO_FORWARD


def container_model(m: Any) -> Any:
    """torchinfo's ContainerModule: a ModuleList, a Sequential called whole and entry by
    entry."""

    class ContainerChildModule(m.Module):
        def __init__(self) -> None:
            super().__init__()
            self._sequential = m.Sequential(m.Linear(5, 5), m.Linear(5, 5))
            self._between = m.Linear(5, 5)

        def forward(self, x: Any) -> Any:
            out = self._between(self._sequential(x))
            for layer in self._sequential:
                out = layer(out)
            out = self._sequential(x)
            for layer in self._sequential:
                out = layer(out)
            return out

    class ContainerModule(m.Module):
        def __init__(self) -> None:
            super().__init__()
            self._layers = m.ModuleList([m.Linear(5, 5), ContainerChildModule(), m.Linear(5, 5)])

        def forward(self, x: Any) -> Any:
            for layer in self._layers:
                x = layer(x)
            return x

    return ContainerModule()


# As torchinfo prints it, but for the row of the Sequential whose entries are called one by
# one: torchinfo shows it as "Sequential: 3" with "--", here it is numbered and "(recursive)".
CONTAINERS = """\
==========================================================================================
Layer (type:depth-idx)                   Output Shape              Param #
==========================================================================================
ContainerModule                          [1, 5]                    --
├─ModuleList: 1-1                        --                        --
│    └─Linear: 2-1                       [1, 5]                    30
│    └─ContainerChildModule: 2-2         [1, 5]                    --
│    │    └─Sequential: 3-1              [1, 5]                    --
│    │    │    └─Linear: 4-1             [1, 5]                    30
│    │    │    └─Linear: 4-2             [1, 5]                    30
│    │    └─Linear: 3-2                  [1, 5]                    30
│    │    └─Sequential: 3-3              --                        (recursive)
│    │    │    └─Linear: 4-3             [1, 5]                    (recursive)
│    │    │    └─Linear: 4-4             [1, 5]                    (recursive)
│    │    └─Sequential: 3-4              [1, 5]                    (recursive)
│    │    │    └─Linear: 4-5             [1, 5]                    (recursive)
│    │    │    └─Linear: 4-6             [1, 5]                    (recursive)
│    │    │    └─Linear: 4-7             [1, 5]                    (recursive)
│    │    │    └─Linear: 4-8             [1, 5]                    (recursive)
│    └─Linear: 2-3                       [1, 5]                    30
==========================================================================================
Total params: 150
Trainable params: 150
Non-trainable params: 0
Total mult-adds (M): 0.00
==========================================================================================
Input size (MB): 0.00
Forward/backward pass size (MB): 0.00
Params size (MB): 0.00
Estimated Total Size (MB): 0.00
=========================================================================================="""


def test_containers_recursion_and_depth() -> None:
    model = container_model(cr.nn)
    assert str(cr.summary(model, input_size=(1, 5), depth=4, verbose=0)) == CONTAINERS
    shallow = str(cr.summary(model, input_size=(1, 5), depth=1, verbose=0)).splitlines()
    # At the deepest level shown, a row counts every parameter below it.
    assert shallow[3:6] == [
        "ContainerModule                          [1, 5]                    --",
        "├─ModuleList: 1-1                        --                        150",
        "=" * 90,
    ]
    assert sum(p.numel() for p in container_model(torch.nn).parameters()) == 150


def test_totals_match_torch_with_frozen_unused_and_direct_parameters() -> None:
    def build(m: Any, lib: Any) -> Any:
        class Tagger(m.Module):
            def __init__(self) -> None:
                super().__init__()
                self.scale = m.Parameter(lib.ones(3))
                self.embedding = m.Embedding(10, 3)
                self.lstm = m.LSTM(3, 4, batch_first=True)
                self.head = m.Linear(4, 2)
                self.head.requires_grad_(False)
                self.unused = m.Linear(6, 6)

            def forward(self, indices: Any) -> Any:
                out, _ = self.lstm(self.embedding(indices) * self.scale)
                return self.head(out)

        return Tagger()

    model, reference = build(cr.nn, cr), build(torch.nn, torch)
    result = cr.summary(model, input_size=(2, 7), dtypes=[cr.int64], verbose=0)
    assert result.total_params == sum(p.numel() for p in reference.parameters())
    trainable = sum(p.numel() for p in reference.parameters() if p.requires_grad)
    assert result.trainable_params == trainable
    assert result.non_trainable_params == 10
    lines = str(result).splitlines()
    assert lines[3].split()[:2] == ["Tagger", "[2,"] and lines[3].endswith("45")  # 3 + 42
    assert lines[6] == "├─Linear: 1-3                            [2, 7, 2]                 (10)"
    assert lines[5].startswith("├─LSTM: 1-2                              [2, 7, 4]")
    assert result.total_input == 2 * 7 * 8  # int64 indices


def test_the_model_is_left_as_it_was() -> None:
    model = single_input_net(cr.nn)
    model.conv2_drop.eval()  # a mixed state, restored module by module
    x = cr.randn(2, 1, 28, 28)
    cr.summary(model, input_data=x, verbose=0)
    assert model.training and not model.conv2_drop.training and model.fc1.training
    assert all(
        m._call_hooks is None or not any(m._call_hooks.forward.values()) for m in model.modules()
    )
    assert all(p.grad is None for p in model.parameters())
    # A forward pass after the summary runs the model alone.
    cr.manual_seed(1)
    first = model.eval()(x)
    cr.manual_seed(1)
    np.testing.assert_array_equal(first.detach().numpy(), model(x).detach().numpy())


def test_several_inputs_and_forward_arguments() -> None:
    class Pair(cr.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = cr.nn.Linear(3, 2), cr.nn.Linear(4, 2)

        def forward(self, x: Any, y: Any, scale: float = 1.0) -> Any:
            return (self.a(x) + self.b(y)) * scale

    by_size = cr.summary(Pair(), input_size=[(5, 3), (5, 4)], scale=2.0, verbose=0)
    by_data = cr.summary(Pair(), input_data=[cr.randn(5, 3), cr.randn(5, 4)], verbose=0)
    assert str(by_size) == str(by_data)
    assert by_size.total_input == 5 * 7 * 4 and by_size.total_params == 8 + 10


def test_long_names_widen_the_first_column() -> None:
    class AVeryLongNameForAConvolutionBlockInAModel(cr.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = cr.nn.Conv1d(1, 1, 1)

        def forward(self, x: Any) -> Any:
            return self.conv(x)

    model = cr.nn.Sequential(cr.nn.Sequential(AVeryLongNameForAConvolutionBlockInAModel()))
    lines = str(cr.summary(model, input_size=(1, 1, 4), verbose=0)).splitlines()
    name = "│    └─AVeryLongNameForAConvolutionBlockInAModel: 2-1"
    # torchinfo's rule: the longest name (without the tree drawing) + 5 per level + 1 is 57,
    # which rounds up to a width of 60.
    assert lines[5].startswith(name + " " * (60 - len(name)) + " [1, 1, 4]")
    assert lines[0] == "=" * (60 + 50)


def test_errors() -> None:
    model = single_input_net(cr.nn)
    with pytest.raises(ValueError, match="input_size or input_data, not both"):
        cr.summary(model, input_size=(1, 1, 28, 28), input_data=cr.randn(1, 1, 28, 28))
    with pytest.raises(
        RuntimeError, match=r"forward pass of SingleInputNet failed.*ran: Conv2d, Conv2d, Dropout2d"
    ):
        cr.summary(model, input_size=(1, 1, 20, 20), verbose=0)
    with pytest.raises(ValueError, match="positive ints"):
        cr.summary(model, input_size=(1, 0, 28, 28))
    with pytest.raises(TypeError, match="must be a Module"):
        cr.summary(torch.nn.Linear(2, 2))
    assert model.training  # restored after the failed pass too
