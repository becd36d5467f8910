"""How close to its time budget (`max_train_time`) training ends: real runs, and a simulation of the rule over hours.

`TimeBudgetCallback` stops training at the end of an update step when the evaluation and save due then, one more
step and the final evaluation and save, each kept at twice the slowest of its kind so far (or an estimate until one is
timed), could overrun the budget. What this shows, side by side in one run:

1. Real runs, one process, the real clock: a tiny Llama (built from a config, synthetic tokens, CPU, one thread) with
   `max_train_time` of a few seconds (5, 10 and 20 s), `save_strategy="time"` (`save_time` a quarter of the budget),
   `logging_strategy="time"`; "small" (hidden size 16: saves of a few hundredths of a second) saves only, "large"
   (hidden size 512, a vocabulary of 16,000: 228 MB of weights and Adam state, saves of about half a second) evaluates
   by time too. After one discarded warm-up run of each. Then two runs of minutes (90 s) of the large model with
   saves every 20 s and an evaluation of 128 examples every 30 s: as configured, and with `eval_on_start=True` (the
   evaluation timed before the first step instead of estimated until the first one).
2. A real run, two processes (torchrun, gloo, DDP), the small model, 10 s, saves by time: every process must stop at
   the same step (they agree at every step end), inside the budget.
3. A simulation of the rule over budgets of 30 minutes to 24 hours, clearly not a measurement: `TimeBudgetCallback`
   and `DefaultFlowCallback` (the library's, unchanged) are driven through the Trainer's hooks in the Trainer's
   order on a fake clock (`TimeBudgetCallback.clock` and `_TimeSchedule.clock` patched), with update steps,
   evaluations and saves drawn from noisy distributions (steps of 0.5 to 2 s with 5% jitter, a first step with
   compilation, phases of 1.5x slower steps; evaluations of minutes and saves of tens of seconds to minutes, each
   with 10-20% jitter and an occasional 1.5x slow one). Several seeds per scenario.

For every run: the budget, where `train()` returned (share of the budget), the unused share, whether it overran,
and what the rule kept in hand when it stopped (seconds left then against what it kept for the next step and the
final evaluation and save) against what the final evaluation and save then took. The unused time beyond one step,
one evaluation and one save (the slowest of each in the run) is what the rule's margin costs.

    .venv/bin/python benchmarks/bench_time_budget.py            # what `make bench` runs: about 6 minutes
    .venv/bin/python benchmarks/bench_time_budget.py --quick    # a smoke run, about a minute and a half
    .venv/bin/python benchmarks/bench_time_budget.py --only simulation --seeds 20
"""

import argparse
import json
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from unittest import mock


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks import bench_time_strategies as strategies  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainerCallback, TrainingArguments  # noqa: E402
from transformers.trainer_callback import (  # noqa: E402
    CallbackHandler,
    DefaultFlowCallback,
    PrinterCallback,
    TrainerControl,
    TrainerState,
    _TimeSchedule,
)
from transformers.trainer_time_budget import TimeBudgetCallback  # noqa: E402


# 1 and 2. Real runs
LARGE = LlamaConfig(
    vocab_size=16_000,
    hidden_size=512,
    intermediate_size=1024,
    num_hidden_layers=1,
    num_attention_heads=4,
    num_key_value_heads=4,
)
# name: (model, evaluation examples or None for eval_strategy="no")
CONFIGURATIONS = {"small, save": (strategies.CONFIG, None), "large, save + eval": (LARGE, 16)}
SAVE_FRACTION, EVAL_FRACTION, LOGGING_FRACTION = 1 / 4, 1 / 3, 1 / 8  # of the budget: `*_time`
WARMUP_BUDGET = 3.0  # seconds, the discarded first run of each configuration
# The runs of minutes, without and with `eval_on_start`: budget, `save_time` and `eval_time` as shares of it,
# evaluation examples
MINUTES = {"budget": 90.0, "save_share": 2 / 9, "eval_share": 1 / 3, "eval_examples": 128}
TWO_PROCESSES_BUDGET = 10.0
MAX_STEPS = 10**6  # more than any budget allows: training must stop on time

# 3. The simulation: a 1.3B-parameter model in bf16 with fp32 Adam states: what the rule estimates an untimed save from
SIMULATED_PARAMETERS = 1_300_000_000
MINUTE, HOUR = 60.0, 3600.0
# name: budget, the strategies (`*_time` in seconds, `*_steps`, or "epoch" with an epoch longer than the budget),
# and the ranges each run draws its typical evaluation and save from (seconds)
SCENARIOS = {
    "30 min, saves every 5 min, no evaluation": {
        "budget": 30 * MINUTE,
        "save": ("time", 5 * MINUTE),
        "eval": None,
        "save_seconds": (10, 30),
    },
    "1 h, saves every 10 min, evaluations every 20 min": {
        "budget": HOUR,
        "save": ("time", 10 * MINUTE),
        "eval": ("time", 20 * MINUTE),
        "save_seconds": (10, 60),
        "eval_seconds": (60, 180),
    },
    "1 h, the same with eval_on_start=True (an evaluation timed before the first step)": {
        "budget": HOUR,
        "save": ("time", 10 * MINUTE),
        "eval": ("time", 20 * MINUTE),
        "save_seconds": (10, 60),
        "eval_seconds": (60, 180),
        "eval_on_start": True,
    },
    "4 h, saves every 30 min, evaluations every hour": {
        "budget": 4 * HOUR,
        "save": ("time", 30 * MINUTE),
        "eval": ("time", HOUR),
        "save_seconds": (30, 120),
        "eval_seconds": (120, 300),
    },
    "8 h, saves every 1,000 steps, evaluations every 2,000": {
        "budget": 8 * HOUR,
        "save": ("steps", 1000),
        "eval": ("steps", 2000),
        "save_seconds": (30, 120),
        "eval_seconds": (120, 300),
    },
    "24 h, saves every hour, evaluations every 2 h": {
        "budget": 24 * HOUR,
        "save": ("time", HOUR),
        "eval": ("time", 2 * HOUR),
        "save_seconds": (60, 180),
        "eval_seconds": (180, 300),
    },
    "2 h, per-epoch save and evaluation, epoch longer than the budget (nothing timed before the stop)": {
        "budget": 2 * HOUR,
        "save": ("epoch", None),
        "eval": ("epoch", None),
        "save_seconds": (30, 120),
        "eval_seconds": (120, 300),
    },
}
STEP_SECONDS = (0.5, 2.0)  # each run draws its typical update step from this range
STEP_JITTER = 0.05  # each step: the typical one times a lognormal factor of this sigma
SLOW_PHASE = {"start_probability": 1 / 2000, "steps": (50, 500), "factor": 1.5}  # phases of slower steps
FIRST_STEP = (5.0, 30.0)  # seconds added to the first step (compilation, warm-up), and 3 typical steps
EVENT_JITTER = {"eval": 0.1, "save": 0.2}  # each event: the run's typical one times uniform(1 - j, 1 + j)
SLOW_EVENT = {"probability": 0.1, "factor": 1.5}  # an occasional slow evaluation or save
TEARDOWN_SECONDS = 2.0  # the simulated `train()` after `on_train_end`
# An evaluation batch takes this share of an update step of the same size (a forward pass, no backward or optimizer):
# the length of the simulated evaluation dataset follows from it and from the evaluation's duration
EVAL_BATCH_SHARE = (0.3, 0.5)
BATCH = 8  # batch size of training and evaluation


class Clock(TrainerCallback):
    """Reads `time.monotonic()` (the callbacks' clock) at each step begin and end, and as each training log,
    evaluation and save ends: an evaluation or a save lasts from the previous of these readings."""

    def __init__(self):
        self.step_begins, self.step_ends, self.saves, self.evals = [], [], [], []

    def on_train_begin(self, args, state, control, **kwargs):
        self.last = time.monotonic()  # an `eval_on_start` evaluation lasts from here

    def on_step_begin(self, args, state, control, **kwargs):
        self.step_begins.append(time.monotonic())

    def on_step_end(self, args, state, control, **kwargs):
        self.last = time.monotonic()
        self.step_ends.append(self.last)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if "loss" in (logs or {}):  # a training log, before the evaluation and save of its step
            self.last = time.monotonic()

    def on_evaluate(self, args, state, control, **kwargs):
        now = time.monotonic()
        self.evals.append(now - self.last)
        self.last = now

    def on_save(self, args, state, control, **kwargs):
        now = time.monotonic()
        self.saves.append(now - self.last)
        self.last = now


_seconds_needed = TimeBudgetCallback._seconds_needed


def recorded_seconds_needed(self, args, state, control):
    """`TimeBudgetCallback._seconds_needed`, noting on the callback its last two decisions: the time left, what it
    kept for the events due now, the next step and the final evaluation and save, and whether it stops there."""
    needed = _seconds_needed(self, args, state, control)
    left = self.deadline - self.clock()
    step, final = self._kept("step"), sum(self._kept(kind) for kind in self._final_events(args))
    decision = {"left": left, "needed": needed, "step": step, "final": final, "due": needed - step - final}
    self.decisions = [*getattr(self, "decisions", [])[-1:], {**decision, "stop": needed > left}]
    return needed


def budget_callback(trainer):
    return next(c for c in trainer.callback_handler.callbacks if isinstance(c, TimeBudgetCallback))


def real_run(
    output_dir, model_config, budget, eval_examples=None, save_time=None, eval_time=None, eval_on_start=False
):
    """One `trainer.train()` under `max_train_time=budget` seconds, timed with the real clock; returns plain data."""
    evaluation = {"eval_strategy": "no"}
    if eval_examples:
        evaluation = {
            "eval_strategy": "time",
            "eval_time": eval_time or EVAL_FRACTION * budget,
            "eval_on_start": eval_on_start,
        }
    args = TrainingArguments(
        output_dir=str(output_dir),
        max_steps=MAX_STEPS,
        max_train_time=budget,
        per_device_train_batch_size=strategies.BATCH,
        per_device_eval_batch_size=strategies.BATCH,
        use_cpu=True,
        report_to=[],
        disable_tqdm=True,
        save_strategy="time",
        save_time=save_time or SAVE_FRACTION * budget,
        save_total_limit=2,
        logging_strategy="time",
        logging_time=LOGGING_FRACTION * budget,
        ddp_find_unused_parameters=False,
        **evaluation,
    )
    torch.manual_seed(0)
    clock = Clock()
    trainer = Trainer(
        model=LlamaForCausalLM(model_config),
        args=args,
        train_dataset=strategies.TokenDataset(MAX_STEPS * strategies.BATCH * args.world_size),
        eval_dataset=strategies.TokenDataset(eval_examples) if eval_examples else None,
        callbacks=[clock],
    )
    trainer.remove_callback(PrinterCallback)
    with mock.patch.object(TimeBudgetCallback, "_seconds_needed", recorded_seconds_needed):
        called = time.monotonic()
        trainer.train()
        end = time.monotonic()
    callback = budget_callback(trainer)
    steps = [end - begin for begin, end in zip(clock.step_begins, clock.step_ends)]
    decisions = getattr(callback, "decisions", [])
    stop = decisions[-1] if decisions and decisions[-1]["stop"] else None
    step = trainer.state.global_step
    return {
        "budget": budget,
        "returned": end - callback.start,  # the budget counts from `on_train_begin`
        "before": callback.start - called,  # `train()` before `on_train_begin`
        "steps": step,
        "stopped": stop is not None,  # by this process's own decision
        "kept": stop,
        "final": end - clock.step_ends[-1],  # the final evaluation and save, and the end of `train()`
        "slowest": {
            "step": max(steps[1:]),  # the first step carries one-off costs: the rule does not time it
            "eval": max(clock.evals, default=0.0),
            "save": max(clock.saves, default=0.0),
        },
        "counts": {"steps": len(steps), "evals": len(clock.evals), "saves": len(clock.saves)},
        "complete": (Path(output_dir) / f"checkpoint-{step}" / "trainer_state.json").exists(),
    }


def one_process_runs(output_dir, budgets, minutes):
    """A warm-up run of each configuration, each budget with each configuration, then the run of minutes."""
    runs = []
    for configuration, (model_config, eval_examples) in CONFIGURATIONS.items():
        strategies.progress(f"  warm-up, {configuration}, {WARMUP_BUDGET:g} s")
        real_run(output_dir / "warm-up", model_config, WARMUP_BUDGET, eval_examples)
        shutil.rmtree(output_dir / "warm-up", ignore_errors=True)
    cases = [(budget, configuration) for budget in budgets for configuration in CONFIGURATIONS]
    for budget, configuration in cases:
        strategies.progress(f"  {configuration}, {budget:g} s")
        folder = output_dir / f"run-{len(runs)}"
        model_config, eval_examples = CONFIGURATIONS[configuration]
        runs.append({"name": configuration, **real_run(folder, model_config, budget, eval_examples)})
        shutil.rmtree(folder, ignore_errors=True)  # a large checkpoint is hundreds of MB
    save_time, eval_time = MINUTES["save_share"] * minutes, MINUTES["eval_share"] * minutes
    for eval_on_start in (False, True) if minutes else ():
        name = (
            f"large, save every {save_time:.3g} s + eval every {eval_time:.3g} s ({MINUTES['eval_examples']} examples)"
            + (", eval_on_start=True" if eval_on_start else "")
        )
        strategies.progress(f"  {name}, {minutes:g} s")
        folder = output_dir / "minutes"
        run = real_run(folder, LARGE, minutes, MINUTES["eval_examples"], save_time, eval_time, eval_on_start)
        runs.append({"name": name, **run})
        shutil.rmtree(folder, ignore_errors=True)
    return runs


def worker(output_dir, budget, result_path):
    """Runs on each of the processes torchrun starts: one real run; writes its result to `result_path`.RANK."""
    strategies.quiet()
    run = real_run(output_dir, strategies.CONFIG, budget)
    rank = torch.distributed.get_rank()
    Path(f"{result_path}.{rank}").write_text(json.dumps(run), encoding="utf-8")
    strategies.end_processes()


def two_process_run(output_dir, budget):
    """`worker` on 2 processes with torchrun: the result of each process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    output_dir.mkdir(parents=True, exist_ok=True)
    result_path = output_dir / "result.json"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={port}"]
    command += ["--monitor_interval=1", __file__, "--worker", str(result_path), "--budgets", str(budget)]
    command += ["--output-dir", str(output_dir / "run")]
    timeout = 180 + 3 * budget  # a hang must fail the benchmark, not block it
    try:
        launch = subprocess.run(
            command,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        sys.exit(f"The 2-process run did not finish in {timeout:.0f} s (a hang?)")
    paths = [Path(f"{result_path}.{rank}") for rank in range(2)]
    if not all(path.exists() for path in paths):
        sys.exit(f"The 2-process run failed (exit code {launch.returncode}):\n{launch.stdout[-3000:]}")
    if launch.returncode != 0:  # the results are complete: a crash at exit is worth saying, not losing them for
        strategies.progress(f"  the 2-process run wrote its results, then exited with code {launch.returncode}")
    return [
        {"name": f"small, save, 2 processes: rank {rank}", **json.loads(path.read_text(encoding="utf-8"))}
        for rank, path in enumerate(paths)
    ]


# 3. The simulation
class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Durations:
    """The durations of one simulated run, drawn with `seed`."""

    def __init__(self, scenario, seed):
        self.draw = random.Random(seed)
        self.step = self.draw.uniform(*STEP_SECONDS)
        self.typical = {
            kind: self.draw.uniform(*scenario[f"{kind}_seconds"])
            for kind in ("eval", "save")
            if f"{kind}_seconds" in scenario
        }
        if "eval" in self.typical:  # the examples an evaluation of this duration goes through
            batches = self.typical["eval"] / (self.draw.uniform(*EVAL_BATCH_SHARE) * self.step)
            self.eval_examples = BATCH * max(1, round(batches))
        self.slow_steps_left, self.first = 0, True

    def next_step(self):
        seconds = self.step * self.draw.lognormvariate(0.0, STEP_JITTER)
        if self.first:
            self.first = False
            return 3 * seconds + self.draw.uniform(*FIRST_STEP)
        if self.slow_steps_left == 0 and self.draw.random() < SLOW_PHASE["start_probability"]:
            self.slow_steps_left = self.draw.randint(*SLOW_PHASE["steps"])
        if self.slow_steps_left:
            self.slow_steps_left -= 1
            seconds *= SLOW_PHASE["factor"]
        return seconds

    def next_event(self, kind):
        jitter = EVENT_JITTER[kind]
        seconds = self.typical[kind] * self.draw.uniform(1 - jitter, 1 + jitter)
        return seconds * (SLOW_EVENT["factor"] if self.draw.random() < SLOW_EVENT["probability"] else 1.0)


def meta_tensors(*numels, dtype):
    return [torch.empty(numel, dtype=dtype, device="meta") for numel in numels]


SIMULATED_MODEL = SimpleNamespace(
    parameters=lambda: meta_tensors(SIMULATED_PARAMETERS, dtype=torch.bfloat16), buffers=lambda: []
)
SIMULATED_OPTIMIZER = SimpleNamespace(
    state={0: dict(zip(("exp_avg", "exp_avg_sq"), meta_tensors(*[SIMULATED_PARAMETERS] * 2, dtype=torch.float32)))}
)


def simulated_run(output_dir, scenario, seed):
    """One simulated `train()`: the Trainer's hooks, in its order, on a fake clock. Returns what `real_run` returns."""
    budget, durations, clock = scenario["budget"], Durations(scenario, seed), FakeClock()
    strategy_args = {"logging_strategy": "steps", "logging_steps": 50, "eval_strategy": "no"}
    for kind in ("save", "eval"):
        if scenario[kind] is not None:
            strategy, every = scenario[kind]
            strategy_args[f"{kind}_strategy"] = strategy
            if every is not None:
                strategy_args[f"{kind}_{strategy}"] = every
    args = TrainingArguments(
        output_dir=str(output_dir),
        max_train_time=budget,
        per_device_train_batch_size=BATCH,
        per_device_eval_batch_size=BATCH,
        use_cpu=True,
        report_to=[],
        **strategy_args,
    )
    steps_per_epoch = 10 * math.ceil(budget / STEP_SECONDS[0])  # an epoch longer than the budget
    state, control, callback = TrainerState(max_steps=MAX_STEPS * 100), TrainerControl(), TimeBudgetCallback()
    state.compute_steps(args, state.max_steps)
    evaluating = scenario["eval"] is not None
    callback.set_trainer(SimpleNamespace(eval_dataset=range(durations.eval_examples) if evaluating else None))
    handler = CallbackHandler([DefaultFlowCallback(), callback], SIMULATED_MODEL, None, SIMULATED_OPTIMIZER, None)
    handler.train_dataloader = handler.eval_dataloader = None
    counts, slowest = {"steps": 0, "evals": 0, "saves": 0}, {"step": 0.0, "eval": 0.0, "save": 0.0}

    def event(kind, seconds):
        clock.now += seconds
        counts[f"{kind}s"] += 1
        slowest[kind] = max(slowest[kind], seconds)

    def maybe_log_save_evaluate():  # as `Trainer._maybe_log_save_evaluate`
        nonlocal control
        if control.should_log:
            clock.now += 0.01
            control = handler.on_log(args, state, control, logs={"loss": 1.0})
        if control.should_evaluate:
            event("eval", durations.next_event("eval"))
            control = handler.on_evaluate(args, state, control, metrics={})
        if control.should_save:
            event("save", durations.next_event("save"))
            control = handler.on_save(args, state, control)

    patches = [mock.patch.object(cls, "clock", staticmethod(clock)) for cls in (TimeBudgetCallback, _TimeSchedule)]
    patches.append(mock.patch.object(TimeBudgetCallback, "_seconds_needed", recorded_seconds_needed))
    with patches[0], patches[1], patches[2]:
        start = clock.now  # the budget counts from `on_train_begin`
        control = handler.on_train_begin(args, state, control)
        if scenario.get("eval_on_start"):  # as `Trainer`: right after `on_train_begin`
            event("eval", durations.next_event("eval"))
            control = handler.on_evaluate(args, state, control, metrics={})
        for epoch in range(100):
            control = handler.on_epoch_begin(args, state, control)
            for index in range(steps_per_epoch):
                control = handler.on_step_begin(args, state, control)
                seconds = durations.next_step()
                clock.now += seconds
                counts["steps"] += 1
                if counts["steps"] > 1:
                    slowest["step"] = max(slowest["step"], seconds)
                state.global_step += 1
                state.epoch = epoch + (index + 1) / steps_per_epoch
                control = handler.on_step_end(args, state, control)
                step_end = clock.now
                maybe_log_save_evaluate()
                if control.should_epoch_stop or control.should_training_stop:
                    break
            control = handler.on_epoch_end(args, state, control)
            maybe_log_save_evaluate()
            if control.should_training_stop:
                break
        control = handler.on_train_end(args, state, control)
        clock.now += TEARDOWN_SECONDS
    decisions = getattr(callback, "decisions", [])
    stop = decisions[-1] if decisions and decisions[-1]["stop"] else None
    return {
        "budget": budget,
        "returned": clock.now - start,
        "before": 0.0,
        "steps": state.global_step,
        "stopped": stop is not None,
        "kept": stop,
        "final": clock.now - step_end,
        "slowest": slowest,
        "counts": counts,
        "complete": True,
    }


def simulation(output_dir, seeds, scenarios):
    runs = []
    for name in scenarios:
        scenario = SCENARIOS[name]
        strategies.progress(f"  simulation: {name}, {seeds} seeds")
        for seed in range(seeds):
            runs.append({"name": name, "seed": seed, **simulated_run(output_dir, scenario, seed)})
    return runs


# The tables
def summary(run):
    """Derived numbers of one run (real or simulated)."""
    budget, slowest = run["budget"], run["slowest"]
    unused = budget - run["returned"]
    final_work = slowest["step"] + slowest["save"] + slowest["eval"]  # one step, one evaluation, one save
    return {
        "share": run["returned"] / budget,
        "unused": unused,
        "unused_share": unused / budget,
        "beyond": (unused - final_work) / budget,
        "overrun": unused < 0,
    }


def duration(seconds):
    if seconds >= 2 * HOUR:
        return f"{seconds / HOUR:.3g} h"
    if seconds >= 2 * MINUTE:
        return f"{seconds / MINUTE:.3g} min"
    return f"{seconds:.3g} s"


def kept_text(run):
    """What the rule kept at the stop: the time left against step + events due + final events, then what it took."""
    kept = run["kept"]
    if kept is None:
        return "(this process did not find the budget spent: another did, or training ended on `max_steps`)"
    due = f" + due {duration(kept['due'])}" if kept["due"] > 1e-6 else ""
    return (
        f"left {duration(kept['left'])} < step {duration(kept['step'])}{due} + final {duration(kept['final'])};"
        f" the final events took {duration(run['final'])}"
    )


def real_table(runs, load):
    lines = [
        f"Real runs, one and two processes; machine: {strategies.machine(load)}",
        "",
        "| Run | Budget | `train()` returned | Unused | Beyond 1 step + 1 eval + 1 save | Overrun | Steps;"
        " evaluations; saves (with the final ones) | Slowest step; eval; save | Kept in hand at the stop | Final checkpoint |"
        " `train()` before `on_train_begin` |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        numbers, slowest, counts = summary(run), run["slowest"], run["counts"]
        lines.append(
            f"| {run['name']} | {run['budget']:g} s | {run['returned']:.2f} s = {numbers['share']:.1%} |"
            f" {numbers['unused']:.2f} s = {numbers['unused_share']:.1%} | {numbers['beyond']:.1%} |"
            f" {'OVERRUN' if numbers['overrun'] else 'no'} |"
            f" {counts['steps']}; {counts['evals']}; {counts['saves']} |"
            f" {slowest['step']:.3f}; {slowest['eval']:.3f}; {slowest['save']:.3f} s | {kept_text(run)} |"
            f" {'complete' if run['complete'] else 'INCOMPLETE'} at step {run['steps']} | {run['before']:.2f} s |"
        )
    return "\n".join(lines)


def two_process_verdict(runs):
    same = len({run["steps"] for run in runs}) == 1
    inside = all(run["returned"] <= run["budget"] for run in runs)
    deciders = [rank for rank, run in enumerate(runs) if run["stopped"]]
    return (
        f"2 processes: stopped at step {', '.join(str(run['steps']) for run in runs)}"
        f" ({'the same' if same else 'NOT THE SAME'}), {'inside' if inside else 'NOT INSIDE'} the budget; the budget"
        f" found spent by rank {', '.join(map(str, deciders)) or 'none'}: {'PASS' if same and inside else 'FAIL'}"
    )


def simulation_table(runs):
    lines = [
        "SIMULATION of the rule (not a measurement): `TimeBudgetCallback` and `DefaultFlowCallback` driven through the"
        " Trainer's hooks on a fake clock, with drawn durations (see the docstring); median [worst] over the seeds",
        "",
        "| Scenario | Seeds | Slowest step; eval; save (median over the seeds) | `train()` returned | Unused | Beyond 1 step + 1 eval"
        " + 1 save | Overruns | Kept in hand at the stop (the median run) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(run["name"] for run in runs):
        group = [run for run in runs if run["name"] == name]
        numbers = [summary(run) for run in group]
        shares = [n["share"] for n in numbers]
        unused = [n["unused_share"] for n in numbers]
        beyond = [n["beyond"] for n in numbers]
        median_run = sorted(group, key=lambda run: run["returned"])[len(group) // 2]
        typical = [statistics.median(run["slowest"][kind] for run in group) for kind in ("step", "eval", "save")]
        lines.append(
            f"| {name} | {len(group)} | {'; '.join(duration(t) for t in typical)} |"
            f" {statistics.median(shares):.2%} [{max(shares):.2%}] | {statistics.median(unused):.2%}"
            f" [{max(unused):.2%}] | {statistics.median(beyond):.2%} [{max(beyond):.2%}] |"
            f" {sum(n['overrun'] for n in numbers)} of {len(group)} | {kept_text(median_run)} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 5 s budgets, no run of minutes, 2 seeds")
    parser.add_argument("--budgets", type=float, nargs="+", help="seconds, the short real runs (default: 5 10 20)")
    parser.add_argument("--minutes", type=float, help=f"seconds, the 2 long real runs (default {MINUTES['budget']:g})")
    parser.add_argument("--seeds", type=int, help="simulated runs per scenario (default 10)")
    parser.add_argument("--only", choices=("real", "two", "simulation"), help="run one part")
    parser.add_argument("--details", action="store_true", help="also a row per simulated run")
    parser.add_argument("--output-dir", help="where the runs save checkpoints (default: a temporary folder)")
    parser.add_argument("--worker", metavar="RESULT", help=argparse.SUPPRESS)  # set on the processes torchrun starts
    options = parser.parse_args()
    if options.worker:
        return worker(options.output_dir, options.budgets[0], options.worker)
    budgets = options.budgets or ([5.0] if options.quick else [5.0, 10.0, 20.0])
    minutes = options.minutes if options.minutes is not None else 0 if options.quick else MINUTES["budget"]
    seeds = options.seeds or (2 if options.quick else 10)
    scenarios = list(SCENARIOS)[:3] + list(SCENARIOS)[-1:] if options.quick else list(SCENARIOS)

    strategies.quiet()
    started, load = time.monotonic(), os.getloadavg()[0]
    tables = []
    with tempfile.TemporaryDirectory() as temporary:
        output_dir = Path(options.output_dir or temporary)
        runs = []
        if options.only in (None, "real"):
            strategies.progress(f"1 process: budgets of {', '.join(f'{b:g}' for b in budgets)} s, and {minutes:g} s")
            runs += one_process_runs(output_dir / "one", budgets, minutes)
        if options.only in (None, "two"):
            strategies.progress(f"2 processes (torchrun): {TWO_PROCESSES_BUDGET:g} s")
            two = two_process_run(output_dir / "two", TWO_PROCESSES_BUDGET)
            runs += two
        if runs:
            tables.append(real_table(runs, load))
        if options.only in (None, "two"):
            tables.append(two_process_verdict(two))
        if options.only in (None, "simulation"):
            simulated = simulation(output_dir / "simulation", seeds, scenarios)
            tables.append(simulation_table(simulated))
            if options.details:
                details = [{**run, "name": f"{run['name']}, seed {run['seed']}"} for run in simulated]
                tables.append("SIMULATION, each run:\n\n" + real_table(details, load).split("\n", 2)[2])
    print("\n\n".join(tables))
    print(f"\nTotal time: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
