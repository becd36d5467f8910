# Copyright 2026 The HuggingFace Team. All rights reserved.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""Helpers to test the `"time"` strategies without waiting: a fake clock, a tiny model and random tokens."""

from unittest import mock

from transformers import TrainerCallback, is_torch_available
from transformers.trainer_callback import _TimeSchedule


if is_torch_available():
    import torch

    from transformers import LlamaConfig, LlamaForCausalLM


class FakeClock:
    """A clock that only moves when told to. Call it to read the time, in seconds."""

    def __init__(self, start: float = 0.0):
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float):
        self.now += seconds


def patch_clock(clock):
    """Makes the time schedule of `DefaultFlowCallback` read `clock` (a context manager, or `.start()`)."""
    return mock.patch.object(_TimeSchedule, "clock", clock)


class Ticks(TrainerCallback):
    """Each update step lasts `seconds` on `clock`. Records the steps of training logs, evaluations and saves."""

    def __init__(self, clock: FakeClock, seconds: float = 1.0):
        self.clock, self.seconds = clock, seconds
        self.steps = {"log": [], "evaluate": [], "save": []}

    def on_step_begin(self, args, state, control, **kwargs):
        self.clock.advance(self.seconds)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if "loss" in logs:
            self.steps["log"].append(state.global_step)

    def on_evaluate(self, args, state, control, **kwargs):
        self.steps["evaluate"].append(state.global_step)

    def on_save(self, args, state, control, **kwargs):
        self.steps["save"].append(state.global_step)


def tiny_model(seed: int = 0):
    torch.manual_seed(seed)
    sizes = {"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2, "num_key_value_heads": 2}
    return LlamaForCausalLM(LlamaConfig(vocab_size=32, num_hidden_layers=1, **sizes))


if is_torch_available():

    class RandomTokenDataset(torch.utils.data.Dataset):
        """`length` sequences of 8 random token ids, each its own label."""

        def __init__(self, length: int, seed: int = 0):
            self.input_ids = torch.randint(0, 32, (length, 8), generator=torch.Generator().manual_seed(seed))

        def __len__(self):
            return len(self.input_ids)

        def __getitem__(self, i):
            return {"input_ids": self.input_ids[i], "labels": self.input_ids[i]}
