"""Cost and precision of the `"time"` logging, evaluation and save strategies of the Trainer.

Trains a tiny Llama (built from a config, synthetic tokens, CPU, one thread per process) whose update steps take a few
milliseconds, the worst case for any per-step overhead, and measures (benchmarks/README.md says how, and why):

1. Throughput with one process: steps/s of the training loop (from the first `on_step_begin` to the last
   `on_step_end`) with step-based strategies that only fire at the end (`*_steps=10**9`) vs time-based ones
   (`*_time="10h"`); both end with the same evaluation and save, outside the timed loop. Runs alternate, medians.
   Plus the cost of the decision itself, `DefaultFlowCallback.on_step_end`: microbenchmarked, and timed in training.
2. The same with two processes (torchrun, gloo, DDP), plus the cost of a check, the all-reduce that makes the
   processes agree (microbenchmarked, as the mechanism times it, and in training: runs that check on every step), the
   check period K they agree on, and hence the cost per step amortized over K.
3. Precision: with intervals of 0.2 s to 1 s, how late each time-based event fires after its interval elapsed.

Prints the results as markdown tables, with PASS or MISS against each target.

    .venv/bin/python benchmarks/bench_time_strategies.py            # what `make bench` runs, about 2 minutes
    .venv/bin/python benchmarks/bench_time_strategies.py --pairs 3  # quicker, noisier
"""

import argparse
import bisect
import datetime
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_callback import (
    _AGREEMENT_BUDGET,
    _MAX_CHECK_SPACING,
    DefaultFlowCallback,
    PrinterCallback,
    TrainerControl,
    TrainerState,
)
from transformers.trainer_utils import IntervalStrategy
from transformers.utils import logging


KINDS = ("logging", "eval", "save")
NEVER = 10**9  # steps between two step-based events: they only fire at the end of training
SHORT_INTERVALS = {"logging": 0.2, "eval": 0.5, "save": 1.0}  # seconds, for the precision runs


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
WARMUP_STEPS = 100  # one discarded run of each schedule before the timed ones
THROUGHPUT_STEPS = 300  # per timed run
PRECISION_SECONDS = 5.0  # length of a precision run
CHECK_COST_PAIRS = 3  # pairs of runs, with 2 processes, that measure what a check costs in training
MICRO_ITERATIONS, MICRO_REPEATS = 100_000, 7  # decision microbenchmark
ALLREDUCE_ITERATIONS, ALLREDUCE_REPEATS = 1_000, 5
WORKER_TIMEOUT = 240  # seconds: a hang of the 2-process run must fail the benchmark, not block it
TARGETS = {"ratio_1": 0.99, "ratio_2": 0.98, "late_1": 1.0}  # lateness with 2 processes: 1 step + the check period K


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


class RecordingFlowCallback(DefaultFlowCallback):
    """DefaultFlowCallback that records when each step ends (`time.monotonic()` as its `on_step_end` starts, before it
    reads its own clock), how long its `on_step_end` takes, and each check agreed across processes: (step, steps to
    the next check, seconds the all-reduce took). With `check_every_step`, processes agree on every step, not every K.
    """

    def __init__(self, check_every_step):
        super().__init__()
        self.check_every_step = check_every_step
        self.ends, self.decision_seconds, self.checks = [], [], []

    def on_step_end(self, args, state, control, **kwargs):
        self.ends.append(time.monotonic())
        start = time.perf_counter()
        control = super().on_step_end(args, state, control, **kwargs)
        self.decision_seconds.append(time.perf_counter() - start)
        return control

    def _agree_across_processes(self, flags, state, now):
        agreed = super()._agree_across_processes(flags, state, now)
        if self.check_every_step:
            self._next_check_step = state.global_step + 1
        self.checks.append((state.global_step, self._next_check_step - state.global_step, self._collective_seconds))
        return agreed


class Recorder(TrainerCallback):
    """Added after DefaultFlowCallback: `time.monotonic()` at train begin and at every step begin (after
    DefaultFlowCallback restarted its intervals), the CPU time of this process at the first step begin and the last
    step end, and the (step, kind) of every time-based event, seen in `on_log`, `on_evaluate` and `on_save` so that
    recording costs nothing per step. The events of the last step are left out: training ends with them whatever the
    time. Steps end when DefaultFlowCallback's `on_step_end` starts (RecordingFlowCallback records it): so no interval
    of the recorder starts before, and no step ends after, the moments DefaultFlowCallback reads on its own clock."""

    def __init__(self):
        self.train_begin, self.begins, self.events = 0.0, [], []

    def on_train_begin(self, args, state, control, **kwargs):
        self.intervals = {
            kind: getattr(args, f"{kind}_time")
            for kind in KINDS
            if getattr(args, f"{kind}_strategy") == IntervalStrategy.TIME
        }
        self.train_begin = time.monotonic()

    def on_step_begin(self, args, state, control, **kwargs):
        if not self.begins:
            self.cpu_begin = time.process_time()
        self.begins.append(time.monotonic())

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == state.max_steps:
            self.cpu_end = time.process_time()

    def record(self, kind, state):
        if kind in self.intervals and state.global_step < state.max_steps:
            self.events.append((state.global_step, kind))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if "loss" in logs:  # a training log, not evaluation metrics or the final summary
            self.record("logging", state)

    def on_evaluate(self, args, state, control, **kwargs):
        self.record("eval", state)

    def on_save(self, args, state, control, **kwargs):
        self.record("save", state)


def train(output_dir, max_steps, schedule, check_every_step=False):
    """One training run of the tiny model; returns what it recorded, as plain data."""
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
        **SCHEDULES[schedule],
    )
    flow, recorder = RecordingFlowCallback(check_every_step), Recorder()
    trainer = Trainer(
        model=LlamaForCausalLM(CONFIG),
        args=args,
        train_dataset=TokenDataset(max_steps * BATCH * args.world_size),
        eval_dataset=TokenDataset(BATCH),
        callbacks=[recorder],
    )
    trainer.pop_callback(DefaultFlowCallback)
    trainer.callback_handler.callbacks.insert(0, flow)
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    ends = flow.ends
    return {
        "steps_per_second": len(ends) / (ends[-1] - recorder.begins[0]),
        "cpu_steps_per_second": len(ends) / (recorder.cpu_end - recorder.cpu_begin),
        "step_seconds": statistics.median(b - a for a, b in zip(ends, ends[1:])),
        "decision_seconds": statistics.median(flow.decision_seconds),
        "checks": flow.checks,
        "ends": ends,
        **{key: getattr(recorder, key) for key in ("train_begin", "begins", "events", "intervals")},
    }


def throughput_runs(output_dir, rounds):
    """Warm-up runs, then `rounds` rounds of one run of "steps" and one of "time", in this order then the other way
    round (ABBA: a slow drift of the machine's speed weighs on both alike)."""
    names = ("steps", "time")
    for name in names:
        train(output_dir, WARMUP_STEPS, name)
    runs = {name: [] for name in names}
    for round_ in range(rounds):
        for name in names if round_ % 2 == 0 else names[::-1]:
            progress(f"  {name:>5} run {round_ + 1}/{rounds}")
            runs[name].append(train(output_dir, THROUGHPUT_STEPS, name))
    return runs


def check_seconds_in_training(output_dir):
    """Seconds that one check adds to training, with several processes: CHECK_COST_PAIRS pairs of a "steps" run and a
    "time" run that checks on every step, order alternating; the median over the pairs of the difference between
    their seconds per step."""
    differences = []
    for pair in range(CHECK_COST_PAIRS):
        seconds = {}
        for every_step in (False, True) if pair % 2 == 0 else (True, False):
            progress(f"  {'time, K=1' if every_step else 'steps'} run {pair + 1}/{CHECK_COST_PAIRS}")
            run = train(output_dir, THROUGHPUT_STEPS, "time" if every_step else "steps", check_every_step=every_step)
            seconds[every_step] = 1 / run["steps_per_second"]
        differences.append(seconds[True] - seconds[False])
    return statistics.median(differences)


def precision_run(output_dir, runs, world_size=1):
    """A run of about PRECISION_SECONDS with the short intervals (every process trains the same number of steps)."""
    steps = [round(PRECISION_SECONDS * statistics.median(run["steps_per_second"] for run in runs["time"]))]
    if world_size > 1:
        torch.distributed.broadcast_object_list(steps, src=0)
    progress(f"  precision run, {steps[0]} steps")
    return train(output_dir, steps[0], "short")


def decision_seconds(output_dir):
    """Seconds of `DefaultFlowCallback.on_step_end` per update step with each schedule, on one process and fixed
    arguments and state (only the step moves on): median over MICRO_REPEATS loops of MICRO_ITERATIONS steps, the two
    schedules alternating."""
    setups = {}
    for schedule in ("steps", "time"):
        args = TrainingArguments(output_dir=str(output_dir), use_cpu=True, report_to=[], **SCHEDULES[schedule])
        state = TrainerState(max_steps=NEVER**2, logging_steps=NEVER, eval_steps=NEVER, save_steps=NEVER)
        flow, control = DefaultFlowCallback(), TrainerControl()
        flow.on_train_begin(args, state, control)
        setups[schedule] = (args, state, flow, control)
    timings = {"steps": [], "time": []}
    for _ in range(MICRO_REPEATS):
        for schedule, (args, state, flow, control) in setups.items():
            start = time.perf_counter()
            for _ in range(MICRO_ITERATIONS):
                state.global_step += 1
                flow.on_step_end(args, state, control)
            timings[schedule].append((time.perf_counter() - start) / MICRO_ITERATIONS)
            assert not (control.should_log or control.should_evaluate or control.should_save)
    return {schedule: statistics.median(values) for schedule, values in timings.items()}


def allreduce_seconds():
    """Seconds of the agreement's collective: a MAX all-reduce of 5 float64 (3 kinds, eval_delay, the proposed
    period) then `.tolist()`, as in `_agree_across_processes`; median over ALLREDUCE_REPEATS loops."""
    values = torch.zeros(len(KINDS) + 2, dtype=torch.float64)
    timings = []
    for _ in range(ALLREDUCE_REPEATS):
        torch.distributed.barrier()
        start = time.perf_counter()
        for _ in range(ALLREDUCE_ITERATIONS):
            torch.distributed.all_reduce(values, op=torch.distributed.ReduceOp.MAX)
            values.tolist()
        timings.append((time.perf_counter() - start) / ALLREDUCE_ITERATIONS)
    return statistics.median(timings)


def worker(output_dir, pairs, result_path):
    """Runs on each of the processes torchrun starts; rank 0 writes every rank's results to `result_path`."""
    quiet()
    runs = throughput_runs(output_dir, pairs)
    check_seconds = check_seconds_in_training(output_dir)
    allreduce = allreduce_seconds()
    precision = precision_run(output_dir, runs, world_size=torch.distributed.get_world_size())
    gathered = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(gathered, precision)
    if torch.distributed.get_rank() == 0:
        result = {"runs": runs, "precision": gathered, "check_seconds": [allreduce, check_seconds]}
        Path(result_path).write_text(json.dumps(result), encoding="utf-8")


def run_two_processes(output_dir, pairs):
    """Launches `worker` on 2 processes with torchrun and returns rank 0's results."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result_path = Path(output_dir) / "two_processes.json"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={port}"]
    command += ["--monitor_interval=1"]  # the launcher wakes up every second, not 10 times a second: less noise
    command += [__file__, "--worker", str(result_path), "--pairs", str(pairs), "--output-dir", str(output_dir)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    try:
        launch = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, timeout=WORKER_TIMEOUT)
    except subprocess.TimeoutExpired:
        sys.exit(f"The 2-process run did not finish in {WORKER_TIMEOUT} s (a hang?)")
    if launch.returncode != 0 or not result_path.exists():
        sys.exit(f"The 2-process run failed (exit code {launch.returncode}):\n{launch.stdout[-3000:]}")
    return json.loads(result_path.read_text(encoding="utf-8"))


def lateness(run):
    """For each time-based event of a run: (kind, seconds late, seconds late in training time, steps late).

    An interval starts at train begin, or at the first step begin after the previous event of its kind; it elapses
    `interval` seconds later, and the event fires at the end of its step. Training time leaves out the pauses for other
    events: from the end of a step where logs, evaluations or saves fired to the next step begin, when no step can end.
    Steps late counts the step in which the interval elapsed as the fraction of it left (of its training time), and
    every later step in full: at most 1 when the event fires at the end of the very step in which it came due.
    """
    begins, ends = run["begins"], run["ends"]
    event_steps = {step for step, _ in run["events"]}
    pauses = [(ends[step - 1], begins[step]) for step in event_steps if step < len(begins)]
    # Where each step's share of training starts: at its begin after a pause, else at the end of the previous step
    starts = [begins[0]] + [begins[step] if step in event_steps else ends[step - 1] for step in range(1, len(ends))]
    interval_start = dict.fromkeys(run["intervals"], run["train_begin"])
    samples = []
    for step, kind in sorted(run["events"]):
        fired = ends[step - 1]
        due = interval_start[kind] + run["intervals"][kind]
        paused = sum(max(0.0, min(fired, end) - max(due, begin)) for begin, end in pauses)
        elapsed_in = min(bisect.bisect_left(ends, due), step - 1)  # index of the step in which the interval elapsed
        left = min(1.0, (ends[elapsed_in] - due) / (ends[elapsed_in] - starts[elapsed_in]))
        samples.append((kind, fired - due, fired - due - paused, step - 1 - elapsed_in + left))
        interval_start[kind] = begins[step] if step < len(begins) else float("inf")
    return samples


def distribution(values):
    values = sorted(values)
    return {
        "min": values[0],
        "median": statistics.median(values),
        "p90": values[round(0.9 * (len(values) - 1))],
        "max": values[-1],
    }


def medians(runs, key):
    return {schedule: statistics.median(run[key] for run in runs[schedule]) for schedule in runs}


def summarize(runs, precision, allreduce=None, check_seconds=None):
    """The numbers of one setting (one or two processes) from its raw runs.

    The throughput ratio is that of the medians of each schedule: a burst of other work on the machine slows down the
    run it falls on, which weighs on one of the two medians, but on the ratio of the pair it falls in whichever run it
    hits (the A/A noise shows that adjacent runs are hardly more alike than any two). The median of the pairs' ratios
    is shown as well."""
    speed, cpu_speed, step = (
        medians(runs, key) for key in ("steps_per_second", "cpu_steps_per_second", "step_seconds")
    )
    pair_ratios = [t["steps_per_second"] / s["steps_per_second"] for s, t in zip(runs["steps"], runs["time"])]
    # The noise: rounds run ABBA, so the last run of a round and the first of the next have the same schedule
    same = [
        runs["time" if round_ % 2 == 0 else "steps"][round_ : round_ + 2] for round_ in range(len(runs["steps"]) - 1)
    ]
    noise = [second["steps_per_second"] / first["steps_per_second"] for first, second in same]
    # Every process' events, in milliseconds and in that process' median step (step end to step end)
    samples = [(*sample, run["step_seconds"]) for run in precision for sample in lateness(run)]
    summary = {
        "steps_per_second": speed,
        "ratio": speed["time"] / speed["steps"],
        "pair_ratios": distribution(pair_ratios),
        "cpu_ratio": cpu_speed["time"] / cpu_speed["steps"],
        "median_step_ratio": step["steps"] / step["time"],
        "noise": distribution(noise),
        "step_seconds": step["time"],
        "precision_step_seconds": statistics.median(run["step_seconds"] for run in precision),
        "decision_seconds": medians(runs, "decision_seconds"),
        "events": {kind: sum(1 for sample in samples if sample[0] == kind) for kind in KINDS},
        "late_ms": distribution([late * 1e3 for _, late, _, _, _ in samples]),
        "late_steps": distribution([late / step for _, late, _, _, step in samples]),
        "trained_steps": distribution([trained / step for _, _, trained, _, step in samples]),
        "counted_steps": distribution([counted for _, _, _, counted, _ in samples]),
    }
    if allreduce is not None:
        # The first check of a run always proposes a period of 1: it has no measured collective yet
        checks = [check for run in runs["time"] for check in run["checks"][1:]]
        short_periods = [period for _, period, _ in precision[0]["checks"][1:]]
        # One check: its all-reduce microbenchmarked, as the mechanism times it, and how much it slows training down
        summary["collective_seconds"] = [
            allreduce,
            statistics.median(seconds for _, _, seconds in checks),
            check_seconds,
        ]
        summary["period"] = statistics.median(period for _, period, _ in checks)
        summary["short_period"] = {"median": statistics.median(short_periods), "max": max(short_periods)}
    return summary


def each(values, spec):
    return "; ".join(format(value, spec) for value in values)


def target_row(measurement, result, value, target, at_least, unit=""):
    """A row of the results table that has a target: its text and PASS or MISS."""
    passed = value >= target if at_least else value <= target
    return measurement, result, f"{'≥' if at_least else '≤'} {target:.3g}{unit}", "PASS" if passed else "MISS"


def throughput_rows(name, summary, target):
    speed, pairs, noise = summary["steps_per_second"], summary["pair_ratios"], summary["noise"]
    ratio_row = target_row(
        f"{name}: throughput ratio time/steps (of the medians)",
        f"{summary['ratio']:.4f} (median of the pairs' ratios: {pairs['median']:.4f}, from {pairs['min']:.3f} to"
        f" {pairs['max']:.3f}; A/A noise: {noise['min']:.3f} to {noise['max']:.3f}; from median steps:"
        f" {summary['median_step_ratio']:.4f}; in CPU time: {summary['cpu_ratio']:.4f})",
        summary["ratio"],
        target,
        at_least=True,
    )
    if max(1 - noise["min"], noise["max"] - 1) > 1 - target:  # two runs of one schedule differ by more than the margin
        ratio_row = (*ratio_row[:3], f"{ratio_row[3]} (noisy)")
    return [
        (
            f"{name}: steps/s, step-based vs time-based (medians)",
            f"{speed['steps']:.1f} vs {speed['time']:.1f} (a step: {summary['step_seconds'] * 1e3:.2f} ms)",
        ),
        ratio_row,
    ]


def lateness_row(name, summary, target, unit):
    return target_row(
        f"{name}: lateness of time-based events, max",
        f"{summary['counted_steps']['max']:.3f} steps counted; {summary['late_ms']['max']:.1f} ms"
        f" = {summary['trained_steps']['max']:.2f} median steps of training time",
        summary["counted_steps"]["max"],
        target,
        at_least=False,
        unit=unit,
    )


def results_table(one, two, decision, machine):
    """The results, with a verdict per target, as a markdown table (benchmarks/README.md shows one)."""
    step_1, step_2 = one["step_seconds"], two["step_seconds"]
    in_training = one["decision_seconds"]
    cost = in_training["time"] - in_training["steps"]  # the larger, with the caches of a real training step
    collective = two["collective_seconds"]
    per_step = [seconds / two["period"] for seconds in collective]
    shortest, short_period = min(SHORT_INTERVALS.values()), two["short_period"]
    spacing = short_period["max"] * two["precision_step_seconds"]
    rows = [
        ("Machine", machine),
        *throughput_rows("1 process", one, TARGETS["ratio_1"]),
        (
            "1 process: decision per step, time vs steps: microbenchmark; in training (median `on_step_end`)",
            f"{decision['time'] * 1e6:.2f} vs {decision['steps'] * 1e6:.2f} µs:"
            f" +{(decision['time'] - decision['steps']) * 1e6:.2f} µs; {in_training['time'] * 1e6:.2f} vs"
            f" {in_training['steps'] * 1e6:.2f} µs: +{cost * 1e6:.2f} µs = {cost / step_1:.3%} of a step"
            f" (ratio {step_1 / (step_1 + cost):.4f} expected)",
        ),
        *throughput_rows("2 processes", two, TARGETS["ratio_2"]),
        (
            "2 processes: one check: its all-reduce microbenchmarked; as the mechanism times it (median); what it adds"
            " to training (runs checking on every step vs step-based runs, paired)",
            f"{each([seconds * 1e6 for seconds in collective], '.0f')} µs",
        ),
        (
            "2 processes: check period K with long intervals (median); K that the 0.2% budget asks for, from each",
            f"{two['period']:g} steps; {each([seconds / (_AGREEMENT_BUDGET * step_2) for seconds in collective], '.0f')}",
        ),
        (
            "2 processes: checks per step, amortized over K, from each",
            f"{each([seconds * 1e6 for seconds in per_step], '.1f')} µs ="
            f" {each([seconds / step_2 for seconds in per_step], '.3%')} of a step"
            f" (ratio {step_2 / (step_2 + cost + max(per_step)):.4f} expected from the largest, decision included)",
        ),
        target_row(
            f"2 processes: check period K with intervals of {shortest:g} s and more, max × median step (design)",
            f"K median {short_period['median']:g}, max {short_period['max']:g}: {spacing * 1e3:.1f} ms",
            spacing * 1e3,
            max(_MAX_CHECK_SPACING * shortest, two["precision_step_seconds"]) * 1e3,
            at_least=False,
            unit=f" ms: {_MAX_CHECK_SPACING:.0%} of {shortest:g} s, or 1 step",
        ),
        lateness_row("1 process", one, TARGETS["late_1"], " step"),
        lateness_row("2 processes", two, TARGETS["late_1"] + short_period["max"], " steps = 1 + K"),
    ]
    lines = ["| Measurement | Result | Target | |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" + " |" * (4 - len(row)) for row in rows]
    return "\n".join(lines)


def lateness_table(one, two):
    """The distributions of lateness, as a markdown table."""
    lines = ["| Lateness of time-based events | min | median | p90 | max |", "|---|---|---|---|---|"]
    for name, summary in (("1 process", one), ("2 processes", two)):
        events = ", ".join(f"{count} {kind}" for kind, count in summary["events"].items())
        for label, key in (
            (f"{name} ({events}; a step: {summary['precision_step_seconds'] * 1e3:.2f} ms): ms", "late_ms"),
            (f"{name}: ms / median step", "late_steps"),
            (f"{name}: ms / median step, training time only", "trained_steps"),
            (f"{name}: steps counted", "counted_steps"),
        ):
            lines.append(f"| {label} | " + " | ".join(f"{value:.2f}" for value in summary[key].values()) + " |")
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
    parser.add_argument("--pairs", type=int, default=13, help="timed runs of each schedule, per setting")
    parser.add_argument("--output-dir", help="where the runs save checkpoints (default: a temporary folder)")
    parser.add_argument("--worker", metavar="RESULT", help=argparse.SUPPRESS)  # set on the processes torchrun starts
    options = parser.parse_args()
    if options.pairs < 2:
        parser.error("--pairs must be at least 2 (the noise is measured between rounds)")
    if options.worker:
        return worker(options.output_dir, options.pairs, options.worker)

    quiet()
    started, load = time.monotonic(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as temporary:
        output_dir = Path(options.output_dir or temporary)
        progress("1 process: throughput, decision cost, precision")
        runs = throughput_runs(output_dir / "one", options.pairs)
        decision = decision_seconds(output_dir / "one")
        one = summarize(runs, [precision_run(output_dir / "one", runs)])
        progress("2 processes (torchrun): throughput, all-reduce, precision")
        result = run_two_processes(output_dir / "two", options.pairs)
        two = summarize(result["runs"], result["precision"], *result["check_seconds"])
    print(results_table(one, two, decision, machine(load)))
    print()
    print(lateness_table(one, two))
    print(f"\nTotal time: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
