"""Cost and precision of the `"time"` logging, evaluation and save strategies of the Trainer, old and new agreement.

Trains a tiny Llama (built from a config, synthetic tokens, CPU, one thread per process) whose update steps take a few
milliseconds, the worst case for any per-step overhead, with one process and with two (torchrun, gloo, DDP), and
compares, run by run (benchmarks/README.md says how, and why):

- "steps": step-based strategies that only fire at the end (`*_steps=10**9`), the baseline;
- "new": time-based ones (`*_time="10h"`, nothing fires before the end) with the library's `_TimeSchedule`: with
  several processes, a blocking all-reduce at agreed checks, each one after half the steps the processes expect
  before anything can be due;
- "old": the same with the agreement of the previous series, reproduced here (`OldSchedule`): a blocking all-reduce
  every K update steps, K adapted to the measured costs by four tuning constants;
- "every step" (two processes): the library's check, made at every update step;
- "budget": the step-based strategies with `max_train_time="100h"` (never reached): `TimeBudgetCallback` decides at
  every update step, and with several processes agrees at every one (`accelerator.reduce` of a tensor of its own, one
  blocking all-reduce);
- "jit" (two processes): the step-based strategies with `enable_jit_checkpoint=True` and no signal:
  `JITCheckpointCallback` agrees at every update step the same way.

It measures throughput (steps/s of the training loop, runs alternating, medians; the ratio to "steps"), the cost per
step, and the precision: with intervals of 0.2 s to 1 s, how late each time-based event fires after its interval
elapsed. Prints the results as markdown tables, with PASS or MISS against each target.

    .venv/bin/python benchmarks/bench_time_strategies.py                     # what `make bench` runs, about 8 minutes
    .venv/bin/python benchmarks/bench_time_strategies.py --quick --only two  # a smoke run of the 2-process part
"""

import argparse
import bisect
import datetime
import gc
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import torch

from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainerCallback, TrainingArguments, trainer_callback
from transformers.trainer_callback import (
    _AGREED_FLAGS,
    DefaultFlowCallback,
    PrinterCallback,
    TrainerControl,
    TrainerState,
    _TimeSchedule,
)
from transformers.trainer_time_budget import TimeBudgetCallback
from transformers.trainer_utils import IntervalStrategy
from transformers.utils import logging


KINDS = ("logging", "eval", "save")
NEVER = 10**9  # steps between two step-based events: they only fire at the end of training
SHORT_INTERVALS = {"logging": 0.2, "eval": 0.5, "save": 1.0}  # seconds, for the precision runs


class OldSchedule(_TimeSchedule):
    """The agreement of the previous series (fork branch `old-series`, `DefaultFlowCallback._agree_across_processes`
    and `_check_period`), for comparison only, on the library's bookkeeping. As in the library, a check is a blocking
    MAX all-reduce of the flags and of each process' proposal for the number of steps until the next check (negated:
    the smallest wins), and nothing fires between checks; only the proposal differs. K keeps the collective near
    BUDGET of training time (from the step time, averaged over about AVERAGED steps, and the collective's, averaged
    over the last two) and checks at most MAX_SPACING of the shortest interval apart."""

    BUDGET, MAX_SPACING, AVERAGED, MAX_PERIOD = 0.002, 0.05, 16, 2**20  # its tuning constants

    def __init__(self, args, state):
        super().__init__(args, state)
        self.window_start, self.window_step = self.start, state.global_step  # the steps since the last check
        self.step_seconds, self.collective_seconds = None, 0.0
        self.periods = []  # the K agreed at each check

    def agreed_flags(self, now):
        step = self.state.global_step
        steps = max(step - self.window_step, 1)
        window_step_seconds = (now - self.window_start) / steps
        self.window_start, self.window_step = now, step
        if self.step_seconds is None:
            self.step_seconds = window_step_seconds
        self.step_seconds += min(1.0, steps / self.AVERAGED) * (window_step_seconds - self.step_seconds)
        flags = self.local_flags(now)
        values = [float(flag in flags) for flag in _AGREED_FLAGS] + [-self.proposal()]
        values = torch.tensor(values, dtype=torch.float32, device=self.device)
        start = self.clock()
        torch.distributed.all_reduce(values, op=torch.distributed.ReduceOp.MAX)
        *agreed, negated_period = values.tolist()
        seconds = self.clock() - start
        self.collective_seconds = (self.collective_seconds + seconds) / 2 if self.collective_seconds else seconds
        self.periods.append(int(-negated_period))
        self.next_check = step + self.periods[-1]
        return {flag for flag, value in zip(_AGREED_FLAGS, agreed) if value > 0}

    def proposal(self):
        """Update steps until the next check: enough to make the collective cheap, few enough to stay precise."""
        if self.step_seconds <= 0:
            return 1
        affordable = math.ceil(min(self.collective_seconds / (self.BUDGET * self.step_seconds), self.MAX_PERIOD))
        precise = self.MAX_SPACING * min(self.intervals.values()) / self.step_seconds
        return max(1, min(affordable, math.floor(min(precise, self.MAX_PERIOD))))

    def event_ended(self, kind):
        super().event_ended(kind)
        self.window_start, self.window_step = self.clock(), self.state.global_step  # events are not step time

    def events_ended(self):
        if self.fired:
            self.window_start, self.window_step = self.clock(), self.state.global_step
        super().events_ended()


class EveryStepSchedule(_TimeSchedule):
    """The library's check, made at every update step (nothing is ever far): what spacing the checks saves."""

    def seconds_until_due(self, now):
        return 0.0


# Each mechanism: the `_TimeSchedule` it trains with (None: step-based strategies), its name in the tables, and the
# training arguments it adds
MECHANISMS = {
    "steps": (None, "step-based", {}),
    "new": (_TimeSchedule, "new (halving checks)", {}),
    "old": (OldSchedule, "old (every K steps, 4 constants)", {}),
    "every step": (EveryStepSchedule, "check at every step", {}),
    "budget": (None, 'step-based + max_train_time="100h"', {"max_train_time": "100h"}),
    "jit": (None, "step-based + enable_jit_checkpoint", {"enable_jit_checkpoint": True}),
}
# What each setting (number of processes) compares: with one process no mechanism agrees, so "old" is "new" (and
# `enable_jit_checkpoint` reads a flag, as in stock)
COMPARED = {1: ("steps", "new", "budget"), 2: ("steps", "new", "old", "every step", "budget", "jit")}
PRECISION = {1: ("new",), 2: ("new", "old")}  # "every step" fires at the same steps as "new"
TARGETS = {1: {"ratio": 0.99, "late": 1.0}, 2: {"ratio": 0.98, "late": 2.0}}  # throughput ratio; lateness in steps
# Mechanisms measured for information, without a target: the every-step agreements
NO_TARGET = ("every step", "budget", "jit")


def schedule(strategy, every):
    """Training arguments to log, evaluate and save on `strategy`, `every` steps or seconds (a dict: per kind)."""
    every = every if isinstance(every, dict) else dict.fromkeys(KINDS, every)
    unit = "steps" if strategy == "steps" else "time"
    return {
        arg: value
        for kind in KINDS
        for arg, value in ((f"{kind}_strategy", strategy), (f"{kind}_{unit}", every[kind]))
    }


SCHEDULES = {
    "steps": schedule("steps", NEVER),
    "time": schedule("time", "10h"),
    "short": schedule("time", SHORT_INTERVALS),
}
CONFIG = LlamaConfig(
    vocab_size=64,
    hidden_size=16,
    intermediate_size=32,
    num_hidden_layers=1,
    num_attention_heads=2,
    num_key_value_heads=2,
)
BATCH, SEQUENCE_LENGTH = 4, 16
WARMUP_STEPS = 100  # one discarded run of each mechanism before the timed ones
THROUGHPUT_STEPS = 300  # per timed run
PRECISION_SECONDS = 5.0  # length of a precision run
MICRO_ITERATIONS, MICRO_REPEATS = 100_000, 7  # decision microbenchmark
ALLREDUCE_ITERATIONS, ALLREDUCE_REPEATS = 1_000, 5
# `--quick`: a smoke run, shorter runs and microbenchmarks (set on the processes torchrun starts too)
QUICK = {
    "WARMUP_STEPS": 30,
    "THROUGHPUT_STEPS": 100,
    "PRECISION_SECONDS": 2.0,
    "MICRO_ITERATIONS": 20_000,
    "MICRO_REPEATS": 3,
    "ALLREDUCE_ITERATIONS": 200,
    "ALLREDUCE_REPEATS": 3,
}


class TokenDataset(torch.utils.data.Dataset):
    """`length` examples of random token ids, drawn from a small fixed pool (no cost per item)."""

    def __init__(self, length, pool=64):
        self.length = length
        self.tokens = torch.randint(
            CONFIG.vocab_size, (pool, SEQUENCE_LENGTH), generator=torch.Generator().manual_seed(0)
        )

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        tokens = self.tokens[index % len(self.tokens)]
        return {"input_ids": tokens, "labels": tokens}


class StepEndTimer:
    """Wraps a `CallbackHandler`'s `on_step_end` (the call of every callback's at each step end): records when each
    step ends (`time.monotonic()` before any callback runs, so before the schedule reads its clock) and how long the
    callbacks' `on_step_end` take together (the decision of `DefaultFlowCallback`, and of `TimeBudgetCallback` and
    `JITCheckpointCallback` when they run, with their all-reduces)."""

    def __init__(self, handler):
        self.ends, self.decision_seconds = [], []
        self.on_step_end = handler.on_step_end
        handler.on_step_end = self

    def __call__(self, args, state, control, **kwargs):
        self.ends.append(time.monotonic())
        start = time.perf_counter()
        control = self.on_step_end(args, state, control, **kwargs)
        self.decision_seconds.append(time.perf_counter() - start)
        return control


class Recorder(TrainerCallback):
    """Added after DefaultFlowCallback, so each of its readings of `time.monotonic()` comes after the schedule's own:
    at the end of the first step, where the schedule starts its intervals; at every step begin; and as each time-based
    event ends (`on_log`, `on_evaluate`, `on_save`, where the schedule restarts the interval of its kind), with its
    (step, kind). The events of the last step are left out: training ends with them whatever the time. Also the CPU
    time of this process at the first step begin and the last step end. With the step ends of `StepEndTimer`, taken
    before the schedule reads its clock, no interval of the recorder starts before the schedule's, and no step of
    it ends after: an event fired at the end of the step in which it came due is never seen as later than that."""

    def __init__(self):
        self.start, self.begins, self.events = None, [], []

    def on_train_begin(self, args, state, control, **kwargs):
        self.intervals = {
            kind: getattr(args, f"{kind}_time")
            for kind in KINDS
            if getattr(args, f"{kind}_strategy") == IntervalStrategy.TIME
        }

    def on_step_begin(self, args, state, control, **kwargs):
        if not self.begins:
            self.cpu_begin = time.process_time()
        self.begins.append(time.monotonic())

    def on_step_end(self, args, state, control, **kwargs):
        if self.start is None:
            self.start = time.monotonic()
        if state.global_step == state.max_steps:
            self.cpu_end = time.process_time()

    def record(self, kind, state):
        if kind in self.intervals and state.global_step < state.max_steps:
            self.events.append((state.global_step, kind, time.monotonic()))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if "loss" in logs:  # a training log, not evaluation metrics or the final summary
            self.record("logging", state)

    def on_evaluate(self, args, state, control, **kwargs):
        self.record("eval", state)

    def on_save(self, args, state, control, **kwargs):
        self.record("save", state)


def train(output_dir, max_steps, mechanism, short=False):
    """One training run of the tiny model with `mechanism` (time-based: `short` intervals or 10 h); returns what it
    recorded, as plain data."""
    time_schedule, _, extra = MECHANISMS[mechanism]
    torch.manual_seed(0)
    args = TrainingArguments(
        output_dir=str(output_dir),
        max_steps=max_steps,
        per_device_train_batch_size=BATCH,
        per_device_eval_batch_size=BATCH,
        use_cpu=True,
        report_to=[],
        disable_tqdm=True,
        save_only_model=True,
        save_total_limit=1,
        ddp_find_unused_parameters=False,
        **SCHEDULES["steps" if time_schedule is None else "short" if short else "time"],
        **extra,
    )
    recorder = Recorder()
    trainer = Trainer(
        model=LlamaForCausalLM(CONFIG),
        args=args,
        train_dataset=TokenDataset(max_steps * BATCH * args.world_size),
        eval_dataset=TokenDataset(BATCH),
        callbacks=[recorder],
    )
    timer = StepEndTimer(trainer.callback_handler)
    trainer.remove_callback(PrinterCallback)
    # The mechanism's schedule, created by DefaultFlowCallback at the first step (none with step-based strategies)
    with mock.patch.object(trainer_callback, "_TimeSchedule", time_schedule or _TimeSchedule):
        trainer.train()
    ends = timer.ends
    flow = next(
        callback for callback in trainer.callback_handler.callbacks if isinstance(callback, DefaultFlowCallback)
    )
    return {
        "steps_per_second": len(ends) / (ends[-1] - recorder.begins[0]),
        "cpu_steps_per_second": len(ends) / (recorder.cpu_end - recorder.cpu_begin),
        "step_seconds": statistics.median(b - a for a, b in zip(ends, ends[1:])),
        "decision_seconds": statistics.fmean(timer.decision_seconds),  # the mean: old's checks amortized over K
        "periods": getattr(flow._time_schedule, "periods", []),  # OldSchedule's K at each check
        "ends": ends,
        **{key: getattr(recorder, key) for key in ("start", "begins", "events", "intervals")},
    }


def throughput_runs(output_dir, rounds, mechanisms):
    """A warm-up run of each mechanism, then `rounds` rounds of one run of each, in this order then the other way
    round (ABBA: a slow drift of the machine's speed weighs on all alike)."""
    for mechanism in mechanisms:
        train(output_dir, WARMUP_STEPS, mechanism)
    runs = {mechanism: [] for mechanism in mechanisms}
    for round_ in range(rounds):
        for mechanism in mechanisms if round_ % 2 == 0 else mechanisms[::-1]:
            progress(f"  {mechanism:>8} run {round_ + 1}/{rounds}")
            runs[mechanism].append(train(output_dir, THROUGHPUT_STEPS, mechanism))
    return runs


def precision_runs(output_dir, runs, mechanisms):
    """A run of about PRECISION_SECONDS with the short intervals for each mechanism, all of the same number of steps;
    returns, for each mechanism, the run of every process."""
    several = torch.distributed.is_initialized()
    steps = [round(PRECISION_SECONDS * statistics.median(run["steps_per_second"] for run in runs["new"]))]
    if several:
        torch.distributed.broadcast_object_list(steps, src=0)
    precision = {}
    for mechanism in mechanisms:
        progress(f"  {mechanism:>8} precision run, {steps[0]} steps")
        precision[mechanism] = train(output_dir, steps[0], mechanism, short=True)
    processes = [precision]
    if several:
        processes = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(processes, precision)
    return {mechanism: [process[mechanism] for process in processes] for mechanism in mechanisms}


def decision_seconds(output_dir):
    """Seconds of the decision per update step, on one process and fixed arguments and state (only the step moves
    on): `DefaultFlowCallback.on_step_end` with step-based ("steps") and time-based ("time") strategies, and
    `TimeBudgetCallback.on_step_end` under `max_train_time="100h"` ("budget", the model and optimizer left out: they
    are only read once). Median over MICRO_REPEATS loops of MICRO_ITERATIONS steps, the three alternating."""
    setups = {}
    for name in ("steps", "time", "budget"):
        extra = {"max_train_time": "100h"} if name == "budget" else {}
        args = TrainingArguments(
            output_dir=str(output_dir), use_cpu=True, report_to=[], **SCHEDULES["steps" if extra else name], **extra
        )
        state = TrainerState(max_steps=NEVER**2, logging_steps=NEVER, eval_steps=NEVER, save_steps=NEVER, epoch=0.5)
        callback = DefaultFlowCallback()
        if extra:
            callback = TimeBudgetCallback()
            callback.set_trainer(mock.Mock(eval_dataset=None))
            callback.on_train_begin(args, state, TrainerControl())
        setups[name] = (args, state, callback, TrainerControl())
    timings = {name: [] for name in setups}
    for _ in range(MICRO_REPEATS):
        for name, (args, state, callback, control) in setups.items():
            start = time.perf_counter()
            for _ in range(MICRO_ITERATIONS):
                state.global_step += 1
                callback.on_step_end(args, state, control)
            timings[name].append((time.perf_counter() - start) / MICRO_ITERATIONS)
            assert not (control.should_log or control.should_evaluate or control.should_save)
            assert not control.should_training_stop
    return {name: statistics.median(values) for name, values in timings.items()}


def allreduce_seconds():
    """Seconds of the blocking collectives of the agreements, when nothing else runs (median over ALLREDUCE_REPEATS
    loops of ALLREDUCE_ITERATIONS calls, the two alternating):

    - "flags": a MAX all-reduce of the agreed flags (float32) then `.tolist()`: what "old" pays per check and "every
      step" at each step;
    - "reduce": `Accelerator.reduce` of a tensor of one float (a SUM all-reduce), then `.item()`: what
      `max_train_time` and `enable_jit_checkpoint` each pay at each step."""
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)  # the state the Trainers of this process set up: the same process group
    values = torch.zeros(len(_AGREED_FLAGS) + 1)  # + the period that "old" agrees on

    def flags():
        torch.distributed.all_reduce(values, op=torch.distributed.ReduceOp.MAX)
        values.tolist()

    def reduce():
        accelerator.reduce(torch.tensor(0.0)).item()

    calls = {"flags": flags, "reduce": reduce}
    timings = {name: [] for name in calls}
    for _ in range(ALLREDUCE_REPEATS):
        for name, call in calls.items():
            torch.distributed.barrier()
            start = time.perf_counter()
            for _ in range(ALLREDUCE_ITERATIONS):
                call()
            timings[name].append((time.perf_counter() - start) / ALLREDUCE_ITERATIONS)
    return {name: statistics.median(values) for name, values in timings.items()}


def worker(output_dir, pairs, result_path):
    """Runs on each of the processes torchrun starts; rank 0 writes the results of every process to `result_path`."""
    quiet()
    runs = throughput_runs(output_dir, pairs, COMPARED[2])
    allreduce = allreduce_seconds()
    precision = precision_runs(output_dir, runs, PRECISION[2])
    if torch.distributed.get_rank() == 0:
        result = {"runs": runs, "precision": precision, "allreduce": allreduce}
        Path(result_path).write_text(json.dumps(result), encoding="utf-8")
    end_processes()


def end_processes():
    """Waits for every process, then destroys the process group once the models that hold it are freed: a worker must
    not exit (and torchrun stop the other) while one still writes its results, nor leave gloo's threads to the
    interpreter's exit."""
    torch.distributed.barrier()
    gc.collect()
    torch.distributed.destroy_process_group()


def run_two_processes(output_dir, pairs, quick=False):
    """Launches `worker` on 2 processes with torchrun and returns rank 0's results."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result_path = Path(output_dir) / "two_processes.json"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={port}"]
    command += ["--monitor_interval=1"]  # the launcher wakes up every second, not 10 times a second: less noise
    command += [__file__, "--worker", str(result_path), "--pairs", str(pairs), "--output-dir", str(output_dir)]
    command += ["--quick"] if quick else []
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    timeout = 300 + 90 * pairs  # seconds, several times what it takes: a hang must fail the benchmark, not block it
    try:
        launch = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        sys.exit(f"The 2-process run did not finish in {timeout} s (a hang?)")
    if not result_path.exists():
        sys.exit(f"The 2-process run failed (exit code {launch.returncode}):\n{launch.stdout[-3000:]}")
    if launch.returncode != 0:  # the results are complete: a crash at exit is worth saying, not losing them for
        progress(f"  the 2-process run wrote its results, then exited with code {launch.returncode}")
    return json.loads(result_path.read_text(encoding="utf-8"))


def lateness(run):
    """For each time-based event of a run: (kind, seconds late, steps late).

    An interval starts at the end of the first step, or as the previous event of its kind ends; it elapses `interval`
    seconds later, and the event fires at the end of its step. Steps late counts the step in which the interval
    elapsed as the fraction of it left, and every later step in full: at most 1 when the event fires at the end of the
    very step in which it came due. A step's share of training starts at the end of the previous step, or, when that
    one fired events, at its own begin (an interval that elapses in between, while no step runs, counts as due at the
    start of the next step).
    """
    begins, ends = run["begins"], run["ends"]
    event_steps = {step for step, _, _ in run["events"]}
    starts = [begins[0]] + [begins[step] if step in event_steps else ends[step - 1] for step in range(1, len(ends))]
    interval_start = dict.fromkeys(run["intervals"], run["start"])
    samples = []
    for step, kind, ended in sorted(run["events"]):
        fired = ends[step - 1]
        due = interval_start[kind] + run["intervals"][kind]
        elapsed_in = min(bisect.bisect_left(ends, due), step - 1)  # index of the step in which the interval elapsed
        left = min(1.0, (ends[elapsed_in] - due) / (ends[elapsed_in] - starts[elapsed_in]))
        samples.append((kind, fired - due, step - 1 - elapsed_in + left))
        interval_start[kind] = ended
    return samples


def distribution(values):
    values = sorted(values)
    return {
        "min": values[0],
        "median": statistics.median(values),
        "p90": values[round(0.9 * (len(values) - 1))],
        "max": values[-1],
    }


def summarize(runs, precision):
    """The numbers of one setting (one or two processes) from its raw runs: `runs` and `precision` by mechanism (a list
    of timed runs, and one precision run per process).

    The throughput ratio is that of the medians of steps/s: a burst of other work on the machine slows down the run it
    falls on, which weighs on one of the medians, but on the ratio of a round whichever run it hits (the A/A noise
    shows that adjacent runs are hardly more alike than any two). The median of the rounds' ratios is shown as well."""
    mechanisms = list(runs)

    def median(mechanism, key):
        return statistics.median(run[key] for run in runs[mechanism])

    def ratio(mechanism, key):
        return median(mechanism, key) / median("steps", key)

    # The noise: rounds run ABBA, so the last run of a round and the first of the next are of the same mechanism
    same = [
        runs[mechanisms[-1 if round_ % 2 == 0 else 0]][round_ : round_ + 2] for round_ in range(len(runs["steps"]) - 1)
    ]
    summary = {
        "steps_per_second": {mechanism: median(mechanism, "steps_per_second") for mechanism in mechanisms},
        "step_seconds": {mechanism: median(mechanism, "step_seconds") for mechanism in mechanisms},
        "decision_seconds": {mechanism: median(mechanism, "decision_seconds") for mechanism in mechanisms},
        "noise": distribution([second["steps_per_second"] / first["steps_per_second"] for first, second in same]),
        "ratios": {},
        "lateness": {},
    }
    for mechanism in mechanisms[1:]:
        summary["ratios"][mechanism] = {
            "ratio": ratio(mechanism, "steps_per_second"),
            "rounds": distribution(
                [t["steps_per_second"] / s["steps_per_second"] for s, t in zip(runs["steps"], runs[mechanism])]
            ),
            "median_step": 1 / ratio(mechanism, "step_seconds"),
            "cpu": ratio(mechanism, "cpu_steps_per_second"),
        }
    for mechanism, processes in precision.items():
        # Every process' events, in milliseconds, in that process' median step (step end to step end), and counted
        samples = [(*sample, run["step_seconds"]) for run in processes for sample in lateness(run)]
        summary["lateness"][mechanism] = {
            "events": {kind: sum(1 for sample in samples if sample[0] == kind) for kind in KINDS},
            "step_seconds": statistics.median(run["step_seconds"] for run in processes),
            "ms": distribution([late * 1e3 for _, late, _, _ in samples]),
            "median_steps": distribution([late / step for _, late, _, step in samples]),
            "counted_steps": distribution([counted for _, _, counted, _ in samples]),
        }
    if "old" in runs:
        # Its first check proposes K = 1, with no collective timed yet
        summary["periods"] = statistics.median(k for run in runs["old"] for k in run["periods"][1:])
        summary["short_periods"] = distribution(precision["old"][0]["periods"][1:])
    return summary


def target_row(measurement, result, value, target, at_least, unit=""):
    """A row of the results table that has a target: its text and PASS or MISS."""
    passed = value >= target if at_least else value <= target
    return measurement, result, f"{'≥' if at_least else '≤'} {target:.3g}{unit}", "PASS" if passed else "MISS"


def setting_rows(processes, summary):
    """The rows of one setting: throughput and cost per step of each mechanism, then the lateness of its events."""
    name = f"{processes} process{'es' if processes > 1 else ''}"
    speed, step, noise = summary["steps_per_second"], summary["step_seconds"], summary["noise"]
    noisy = max(1 - noise["min"], noise["max"] - 1) > 1 - TARGETS[processes]["ratio"]  # A/A wider than the margin
    rows = [
        (
            f"{name}: steps/s (medians; a step); A/A noise",
            "; ".join(f"{MECHANISMS[m][1]} {speed[m]:.1f} ({step[m] * 1e3:.2f} ms)" for m in speed)
            + f"; A/A noise {noise['min']:.3f} to {noise['max']:.3f}",
        )
    ]
    for mechanism, ratios in summary["ratios"].items():
        rounds = ratios["rounds"]
        measurement = f"{name}, {MECHANISMS[mechanism][1]}: throughput ratio to step-based (of the medians)"
        result = (
            f"{ratios['ratio']:.4f} (median of the rounds' ratios: {rounds['median']:.4f}, from {rounds['min']:.3f} to"
            f" {rounds['max']:.3f}; from median steps: {ratios['median_step']:.4f}; in CPU time: {ratios['cpu']:.4f})"
        )
        if mechanism in NO_TARGET:  # information: what an agreement at every step costs
            rows.append((measurement, result))
            continue
        ratio_row = target_row(measurement, result, ratios["ratio"], TARGETS[processes]["ratio"], at_least=True)
        rows.append((*ratio_row[:3], f"{ratio_row[3]} (noisy)" if noisy else ratio_row[3]))
    decision = summary["decision_seconds"]
    rows.append(
        (
            f"{name}: cost per step against step-based: in the callbacks' `on_step_end` (mean, median over the runs);"
            " in seconds per step (of the medians)",
            "; ".join(
                f"{MECHANISMS[m][1]} {(decision[m] - decision['steps']) * 1e6:+.1f} µs;"
                f" {(1 / speed[m] - 1 / speed['steps']) * 1e6:+.0f} µs = {speed['steps'] / speed[m] - 1:+.2%} of a step"
                for m in summary["ratios"]
            ),
        )
    )
    for mechanism, late in summary["lateness"].items():
        rows.append(
            target_row(
                f"{name}, {MECHANISMS[mechanism][1]}: lateness of time-based events, max",
                f"{late['counted_steps']['max']:.3f} steps counted; {late['ms']['max']:.1f} ms"
                f" = {late['median_steps']['max']:.2f} median steps",
                late["counted_steps"]["max"],
                TARGETS[processes]["late"],
                at_least=False,
                unit=" steps" if processes > 1 else " step",
            )
        )
    return rows


def results_table(one, two, decision, allreduce, machine):
    """The results, with a verdict per target, as a markdown table (benchmarks/README.md shows one). `one` and
    `decision`, or `two` and `allreduce`, are None when that setting did not run (`--only`)."""
    rows = [("Machine", machine)]
    if one is not None:
        rows += setting_rows(1, one)
        rows.append(
            (
                "1 process, microbenchmark: `DefaultFlowCallback.on_step_end`, step- vs time-based;"
                ' `TimeBudgetCallback.on_step_end` (max_train_time="100h")',
                f"{decision['steps'] * 1e6:.2f} vs {decision['time'] * 1e6:.2f} µs:"
                f" {(decision['time'] - decision['steps']) * 1e6:+.2f} µs; {decision['budget'] * 1e6:.2f} µs",
            )
        )
    if two is not None:
        short, shortest = two["short_periods"], min(SHORT_INTERVALS.values())
        rows += setting_rows(2, two)
        rows += [
            (
                "2 processes, microbenchmark: one blocking all-reduce of the flags; one `Accelerator.reduce` of a"
                " float and `.item()`",
                f"{allreduce['flags'] * 1e6:.0f} µs; {allreduce['reduce'] * 1e6:.0f} µs",
            ),
            (
                f"2 processes, old: K agreed, with intervals of 10 h (median); of {shortest:g} s to"
                f" {max(SHORT_INTERVALS.values()):g} s (median, max)",
                f"{two['periods']:g} steps; {short['median']:g}, {short['max']:g} steps = "
                f"{short['max'] * two['lateness']['old']['step_seconds'] * 1e3:.1f} ms"
                f" (its design: at most {OldSchedule.MAX_SPACING * shortest * 1e3:g} ms, or 1 step)",
            ),
        ]
    lines = ["| Measurement | Result | Target | |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" + " |" * (4 - len(row)) for row in rows]
    return "\n".join(lines)


def lateness_table(one, two):
    """The distributions of lateness, as a markdown table."""
    lines = ["| Lateness of time-based events | min | median | p90 | max |", "|---|---|---|---|---|"]
    for name, summary in (("1 process", one), ("2 processes", two)):
        if summary is None:
            continue
        for mechanism, late in summary["lateness"].items():
            label = f"{name}, {mechanism}"
            events = ", ".join(f"{count} {kind}" for kind, count in late["events"].items())
            for text, key in (
                (f"{label} ({events}; a step: {late['step_seconds'] * 1e3:.2f} ms): ms", "ms"),
                (f"{label}: ms / median step", "median_steps"),
                (f"{label}: steps counted", "counted_steps"),
            ):
                lines.append(f"| {text} | " + " | ".join(f"{value:.2f}" for value in late[key].values()) + " |")
    return "\n".join(lines)


def machine(load):
    """The machine, the date, and the load average (1 min) before the benchmark: other work on the CPUs shows there."""
    cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    return (
        f"{os.cpu_count()} CPUs ({model}), torch {torch.__version__}, {datetime.date.today().isoformat()};"
        f" load average before the run: {load:.2f}"
    )


def progress(message):
    """A line on stderr, from the main process or rank 0 only."""
    if os.environ.get("RANK", "0") == "0":
        print(message, file=sys.stderr, flush=True)


def quiet():
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    torch.set_num_threads(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, help="rounds of timed runs, one run of each mechanism (default: 10)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 rounds of 100-step runs, noisy")
    parser.add_argument("--only", choices=("one", "two"), help="one process only, or two processes only")
    parser.add_argument("--output-dir", help="where the runs save checkpoints (default: a temporary folder)")
    parser.add_argument("--worker", metavar="RESULT", help=argparse.SUPPRESS)  # set on the processes torchrun starts
    options = parser.parse_args()
    pairs = options.pairs or (2 if options.quick else 10)
    if pairs < 2:
        parser.error("--pairs must be at least 2 (the noise is measured between rounds)")
    if options.quick:
        globals().update(QUICK)
    if options.worker:
        return worker(options.output_dir, pairs, options.worker)

    quiet()
    started, load = time.monotonic(), os.getloadavg()[0]
    one = decision = two = allreduce = None
    with tempfile.TemporaryDirectory() as temporary:
        output_dir = Path(options.output_dir or temporary)
        if options.only in (None, "one"):
            progress("1 process: throughput, decision cost, precision")
            runs = throughput_runs(output_dir / "one", pairs, COMPARED[1])
            decision = decision_seconds(output_dir / "one")
            one = summarize(runs, precision_runs(output_dir / "one", runs, PRECISION[1]))
        if options.only in (None, "two"):
            progress("2 processes (torchrun): throughput, all-reduce, precision")
            result = run_two_processes(output_dir / "two", pairs, options.quick)
            two, allreduce = summarize(result["runs"], result["precision"]), result["allreduce"]
    print(results_table(one, two, decision, allreduce, machine(load)))
    print()
    print(lateness_table(one, two))
    print(f"\nTotal time: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
