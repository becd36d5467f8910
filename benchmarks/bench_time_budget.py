"""How close to its time budget (`max_time`) training ends, and what the stop flag costs the agreement.

1. The budget, one process, the real clock. A tiny Llama (built from a config, synthetic tokens, CPU, one thread)
   trains with `max_time` set, `save_strategy="time"` (`save_time` a quarter of the budget), `logging_strategy="time"`
   and, in one configuration, `eval_strategy="time"`, for several budgets and two save sizes: "small" (hidden size
   16, a save of a few hundredths of a second) and "large" (hidden size 512, a vocabulary of 16,000: a save of about
   0.5 to 1 s). Each run is timed from just before `trainer.train()` to its return, and to the end of the final save
   (`on_save`); it reports the end over the budget (target: at most 1, else OVERRUN), the seconds left unused, the
   update steps, whether the final checkpoint is complete (its `trainer_state.json` exists) and why training
   stopped (the schedule's `stop_reason`, "time budget" expected); and, from the schedule's last decision to go on (the step
   before the stop), the time left then, what it kept (the slowest step so far, the evaluation and save due then and
   the final ones) and what they took, which says where an overrun or unused time comes from. Repetitions run round-robin over the configurations and
   budgets (a drift of the machine's speed weighs on all alike), after one discarded warm-up run of each
   configuration (the first save of a process carries one-off costs).
2. Nothing timed before the stop, the old rule and the new, side by side: epoch-level saves with an epoch longer than
   the budget (the case of the review: a 90 s budget stopped at 80 s), both models (the "large" one writes 228 MB,
   which the new rule keeps at 1 s + 2.3 s), and the large one with an epoch-level evaluation too (16 examples, 4
   batches: the new rule keeps them as 4 update steps, twice). The old rule (a tenth of `max_time` for each event
   not timed yet, the slowest step once) is `old_stop_deadline`, patched in; the new one is the library's. Runs
   alternate between the rules; then one run of the new rule with evaluation and save at the review's budget, 90 s
   (not with --quick). Each reports the end of `train()`, the time left unused and whether it overran.
3. The agreement, two processes (torchrun, gloo, DDP), with `bench_time_strategies.py`'s runs (its `train`,
   `throughput_runs`, `summarize`, `run_two_processes` and `allreduce_seconds`, imported, not copied): step-based
   strategies, the time strategies alone (`*_time="10h"`), the same with `max_time="100h"` (it never stops, but
   its deadline joins the checks) and with `enable_jit_checkpoint` (a check at least every second), runs
   alternating, medians; plus the blocking all-reduce of the agreed flags with and without the two stop reasons
   that `_AGREED_FLAGS` now carries.

Prints the results as markdown tables, in the style of `bench_time_strategies.py`.

    .venv/bin/python benchmarks/bench_time_budget.py            # about 4.5 minutes on 2 CPUs
    .venv/bin/python benchmarks/bench_time_budget.py --quick    # a smoke run, about a minute and a half
    .venv/bin/python benchmarks/bench_time_budget.py --budgets 30 60 --reps 5 --only budget
"""

import argparse
import collections
import contextlib
import functools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks import bench_time_strategies as strategies  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainerCallback, TrainingArguments  # noqa: E402
from transformers.trainer_callback import _AGREED_FLAGS, _STOP_REASONS, PrinterCallback, _TimeSchedule  # noqa: E402


# 1. The budget
CONFIGURATIONS = {
    # name: (model, evaluation examples or None for eval_strategy="no")
    "small, save": (strategies.CONFIG, None),
    "large, save + eval": (
        LlamaConfig(
            vocab_size=16_000,
            hidden_size=512,
            intermediate_size=1024,
            num_hidden_layers=1,
            num_attention_heads=4,
            num_key_value_heads=4,
        ),
        16,
    ),
}
SAVE_FRACTION, EVAL_FRACTION, LOGGING_FRACTION = 1 / 4, 1 / 3, 1 / 8  # of the budget: `*_time`
MAX_STEPS = 100_000  # more than any budget allows: training must stop on time
WARMUP_BUDGET = 3.0  # seconds, the discarded first run of each configuration

# 2. Nothing timed before the stop
# name: (configuration, eval_strategy)
EPOCH_CASES = {
    "small, epoch save": ("small, save", "no"),
    "large, epoch save": ("large, save + eval", "no"),
    "large, epoch eval + save": ("large, save + eval", "epoch"),
}
EPOCH_BUDGET = 16.0
REVIEW_BUDGET, REVIEW_CASE = 90.0, "large, epoch eval + save"  # one run of the new rule at the review's budget


def old_stop_deadline(schedule, due_now=()):
    """The rule before the review: a tenth of `max_time` for each event not timed yet, the slowest step once."""
    kinds = [*due_now, *schedule.final_events]
    in_hand = sum(schedule.slowest.get(kind, schedule.max_time / 10) for kind in kinds)
    return schedule.budget_end - schedule.slowest["step"] - in_hand


def epoch_run(output_dir, configuration, eval_strategy, budget, rule):
    """One `train()` with epoch-level events and an epoch longer than `budget`, under `rule` ("old" or "new")."""
    model_config, _ = CONFIGURATIONS[configuration]
    args = TrainingArguments(
        output_dir=str(output_dir),
        max_steps=MAX_STEPS,
        max_time=budget,
        per_device_train_batch_size=strategies.BATCH,
        per_device_eval_batch_size=strategies.BATCH,
        use_cpu=True,
        report_to=[],
        disable_tqdm=True,
        save_strategy="epoch",
        eval_strategy=eval_strategy,
        logging_strategy="no",
    )
    torch.manual_seed(0)
    clock = Clock()
    trainer = Trainer(
        model=LlamaForCausalLM(model_config),
        args=args,
        train_dataset=strategies.TokenDataset(MAX_STEPS * strategies.BATCH),
        eval_dataset=strategies.TokenDataset(16),
        callbacks=[clock],
    )
    trainer.remove_callback(PrinterCallback)
    deadline = old_stop_deadline if rule == "old" else _stop_deadline
    with mock.patch.object(_TimeSchedule, "stop_deadline", deadline):
        start = time.monotonic()
        output = trainer.train()
        end = time.monotonic() - start
    return {
        "end": end,
        "steps": trainer.state.global_step,
        "saves": [seconds for _, seconds in clock.saves],
        "evals": clock.evals,
        "stopped": output.metrics.get("train_stopped_early") == 1.0,
    }


def epoch_table(output_dir, budget, reps, load, review=True):
    """The old rule and the new, side by side, and with `review` the new one at `REVIEW_BUDGET`, as a markdown table."""
    rows = []
    for rep in range(reps):
        for case, (configuration, eval_strategy) in EPOCH_CASES.items():
            for rule in ("old", "new"):
                strategies.progress(f"  {case}, {rule} rule, {budget:g} s, rep {rep + 1}/{reps}")
                folder = output_dir / f"epoch-{len(rows)}"
                rows.append((case, rule, budget, epoch_run(folder, configuration, eval_strategy, budget, rule)))
                shutil.rmtree(folder, ignore_errors=True)
    if review:
        strategies.progress(f"  {REVIEW_CASE}, new rule, {REVIEW_BUDGET:g} s")
        folder = output_dir / "epoch-review"
        run = epoch_run(folder, *EPOCH_CASES[REVIEW_CASE], REVIEW_BUDGET, "new")
        rows.append((REVIEW_CASE, "new", REVIEW_BUDGET, run))
        shutil.rmtree(folder, ignore_errors=True)
    lines = [
        f"Machine: {strategies.machine(load)}",
        "",
        "| Case (nothing timed before the stop) | `max_time` | Rule | Steps | End of `train()` | Unused"
        " | Final save; evaluation | Overrun |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for case, rule, budget, run in rows:
        unused = budget - run["end"]
        lines.append(
            f"| {case} | {budget:g} s | {rule} | {run['steps']} | {run['end']:.2f} s |"
            f" {unused:.2f} s = {unused / budget:.1%} |"
            f" {run['saves'][-1] if run['saves'] else 0:.2f} s; {run['evals'][-1] if run['evals'] else 0:.2f} s |"
            f" {'OVERRUN' if unused < 0 else 'no'}{'' if run['stopped'] else ' (did not stop on the budget)'} |"
        )
    return "\n".join(lines)


# 3. The agreement: what each mechanism adds to `bench_time_strategies.train`'s "new" arguments (None: its "steps")
VARIANTS = {
    "steps": None,
    "time": {},
    "max_time": {"max_time": "100h"},
    "jit": {"enable_jit_checkpoint": True},
}
# A smoke run (`--quick`) of the 2-process part: shorter runs and microbenchmark (set for the processes torchrun starts)
QUICK_ENVIRONMENT = "BENCH_TIME_BUDGET_QUICK"
QUICK = {"WARMUP_STEPS": 30, "THROUGHPUT_STEPS": 100, "ALLREDUCE_ITERATIONS": 200, "ALLREDUCE_REPEATS": 3}
LABELS = {
    "steps": "step-based",
    "time": "time strategies alone",
    "max_time": 'with max_time="100h"',
    "jit": "with enable_jit_checkpoint",
}


class Clock(TrainerCallback):
    """Reads `time.monotonic()` (the schedule's clock) at each step begin and end, and as each training log,
    evaluation and save ends: an evaluation or a save lasts from the previous of these readings. At the step where
    training stops on the budget, also takes the schedule's last decision to go on (see `recorded`)."""

    def __init__(self):
        self.step_begins, self.step_ends, self.saves, self.evals = [], [], [], []
        self.go_on = None

    def on_step_begin(self, args, state, control, **kwargs):
        self.step_begins.append(time.monotonic())

    def on_step_end(self, args, state, control, **kwargs):
        self.last = time.monotonic()
        self.step_ends.append(self.last)
        schedule = _TimeSchedule.of(state)
        decisions = getattr(schedule, "decisions", ())
        if control.should_training_stop and schedule.stop_reason == "time budget" and len(decisions) == 2:
            self.go_on = decisions[0]

    def on_log(self, args, state, control, logs=None, **kwargs):
        if "loss" in (logs or {}):  # a training log, before the evaluation and save of its step
            self.last = time.monotonic()

    def on_evaluate(self, args, state, control, **kwargs):
        now = time.monotonic()
        self.evals.append(now - self.last)
        self.last = now

    def on_save(self, args, state, control, **kwargs):
        now = time.monotonic()
        self.saves.append((now, now - self.last))
        self.last = now


_stop_deadline = _TimeSchedule.stop_deadline


def recorded(schedule, due_now=()):
    """`_TimeSchedule.stop_deadline`, noting its last two answers on the schedule (with one process, those of the last
    two decisions): when, the time left of the budget, and what it kept for the next step (the slowest so far) and
    for the evaluation and save due now and the final ones (and which of these it had not timed yet)."""
    due_now = tuple(due_now)
    deadline = _stop_deadline(schedule, due_now)
    if not hasattr(schedule, "decisions"):
        schedule.decisions = collections.deque(maxlen=2)
    now = schedule.clock()
    schedule.decisions.append(
        {
            "at": now,
            "left": schedule.budget_end - now,
            "step": schedule.margin * schedule.slowest["step"],
            "events": schedule.budget_end - deadline - schedule.margin * schedule.slowest["step"],
            "due": sorted(due_now),
            "untimed": sorted({kind for kind in (*due_now, *schedule.final_events) if kind not in schedule.slowest}),
        }
    )
    return deadline


def budget_run(output_dir, configuration, budget):
    """One `trainer.train()` under a time budget of `budget` seconds, timed with the real clock; returns plain data."""
    model_config, eval_examples = CONFIGURATIONS[configuration]
    evaluation = {"eval_strategy": "no"}
    if eval_examples:
        evaluation = {"eval_strategy": "time", "eval_time": EVAL_FRACTION * budget}
    args = TrainingArguments(
        output_dir=str(output_dir),
        max_steps=MAX_STEPS,
        max_time=budget,
        per_device_train_batch_size=strategies.BATCH,
        per_device_eval_batch_size=strategies.BATCH,
        use_cpu=True,
        report_to=[],
        disable_tqdm=True,
        save_strategy="time",
        save_time=SAVE_FRACTION * budget,
        save_total_limit=2,
        logging_strategy="time",
        logging_time=LOGGING_FRACTION * budget,
        **evaluation,
    )
    torch.manual_seed(0)
    clock = Clock()
    trainer = Trainer(
        model=LlamaForCausalLM(model_config),
        args=args,
        train_dataset=strategies.TokenDataset(MAX_STEPS * strategies.BATCH),
        eval_dataset=strategies.TokenDataset(eval_examples) if eval_examples else None,
        callbacks=[clock],
    )
    trainer.remove_callback(PrinterCallback)
    with mock.patch.object(_TimeSchedule, "stop_deadline", recorded):
        start = time.monotonic()
        trainer.train()
        end = time.monotonic() - start
    step, begins, ends = trainer.state.global_step, clock.step_begins, clock.step_ends
    final_save = clock.saves[-1][0] if clock.saves else None
    go_on = None
    if clock.go_on is not None:
        # From the last decision to go on to the return of `train()`: what the schedule kept, what it took
        go_on = {
            **{key: clock.go_on[key] for key in ("left", "step", "events", "due", "untimed")},
            "then": begins[-1] - ends[-2],  # the events due at that step (and the next batch)
            "last_step": ends[-1] - begins[-1],
            "final": (final_save or ends[-1]) - ends[-1],  # the final log, evaluation and save
            "after_save": start + end - (final_save or ends[-1]),  # the rest of `train()`
        }
    return {
        "configuration": configuration,
        "budget": budget,
        "end": end,
        "final_save": final_save - start if final_save is not None else None,
        "stop_step_end": ends[-1] - start,
        "steps": step,
        "stop_reason": _TimeSchedule.of(trainer.state).stop_reason,
        "complete": (Path(output_dir) / f"checkpoint-{step}" / "trainer_state.json").exists(),
        "saves": [seconds for _, seconds in clock.saves],
        "evals": clock.evals,
        "step_median": statistics.median(b - a for a, b in zip(begins, ends)),
        "step_max": max(b - a for a, b in zip(begins, ends)),
        "go_on": go_on,
    }


def budget_runs(output_dir, budgets, reps):
    """A warm-up run of each configuration, then `reps` rounds of one run of each configuration and budget."""
    for configuration in CONFIGURATIONS:
        strategies.progress(f"  warm-up, {configuration}, {WARMUP_BUDGET:g} s")
        budget_run(output_dir / "warm-up", configuration, WARMUP_BUDGET)
        shutil.rmtree(output_dir / "warm-up", ignore_errors=True)
    runs = []
    for rep in range(reps):
        for budget in budgets:
            for configuration in CONFIGURATIONS:
                strategies.progress(f"  {configuration}, {budget:g} s, rep {rep + 1}/{reps}")
                folder = output_dir / f"run-{len(runs)}"
                runs.append({**budget_run(folder, configuration, budget), "rep": rep + 1})
                shutil.rmtree(folder, ignore_errors=True)  # a large checkpoint is hundreds of MB
    return runs


def verdict(run):
    return "OVERRUN" if run["end"] > run["budget"] else "PASS"


def runs_table(runs):
    """One row per run, as a markdown table. From the last decision to go on (the step before the stop): the time left
    then, what the schedule kept (the slowest step; the evaluation and save due then and the final ones), and what
    it took (the events due then, the last step, the final log, evaluation and save, the rest of `train()`)."""
    lines = [
        "| Configuration | Budget | Rep | Steps | End / budget | Unused | Final save ends |"
        " Last decision to go on: left | kept: step +"
        " events | took: events + step + final events + rest | Saves: n; median, max | Evaluations:"
        " n; median | Final checkpoint | Stop reason | |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        saves, evals, go_on = run["saves"], run["evals"], run["go_on"]
        decision = "- | - | -"
        if go_on is not None:
            notes = [f"due then: {', '.join(go_on['due'])}"] if go_on["due"] else []
            notes += [f"not timed yet: {', '.join(go_on['untimed'])}"] if go_on["untimed"] else []
            untimed = f" ({'; '.join(notes)})" if notes else ""
            decision = (
                f"{go_on['left']:.3f} s | {go_on['step']:.3f} + {go_on['events']:.3f} s{untimed} |"
                f" {go_on['then']:.3f} + {go_on['last_step']:.3f} + {go_on['final']:.3f} + {go_on['after_save']:.3f} s"
            )
        lines.append(
            f"| {run['configuration']} | {run['budget']:g} s | {run['rep']} | {run['steps']} |"
            f" {run['end'] / run['budget']:.4f} | {run['budget'] - run['end']:.3f} s |"
            + (f" {run['final_save']:.3f} s |" if run["final_save"] is not None else " - |")
            + f" {decision} |"
            f" {len(saves)}; {statistics.median(saves):.3f} s, {max(saves):.3f} s |"
            + (f" {len(evals)}; {statistics.median(evals):.3f} s |" if evals else " - |")
            + f" {'complete' if run['complete'] else 'INCOMPLETE'} | {run['stop_reason']} | {verdict(run)} |"
        )
    return "\n".join(lines)


def budget_table(runs, budgets, load):
    """Median and worst over the repetitions of each configuration and budget, with a verdict, as a markdown table."""
    rows = [("Machine", strategies.machine(load))]
    for configuration in CONFIGURATIONS:
        mine = [run for run in runs if run["configuration"] == configuration]
        saves = [seconds for run in mine for seconds in run["saves"]]
        evals = [seconds for run in mine for seconds in run["evals"]]
        rows.append(
            (
                f"{configuration}: update step (median, max); save (median, max)"
                + ("; evaluation (median, max)" if evals else ""),
                f"{statistics.median(run['step_median'] for run in mine) * 1e3:.1f} ms,"
                f" {max(run['step_max'] for run in mine) * 1e3:.0f} ms;"
                f" {statistics.median(saves):.3f} s, {max(saves):.3f} s"
                + (f"; {statistics.median(evals):.3f} s, {max(evals):.3f} s" if evals else ""),
            )
        )
        for budget in budgets:
            group = [run for run in mine if run["budget"] == budget]
            ratios = [run["end"] / budget for run in group]
            unused = [budget - run["end"] for run in group]
            overruns = sum(verdict(run) == "OVERRUN" for run in group)
            stopped = sum(run["stop_reason"] == "time budget" for run in group)
            complete = sum(run["complete"] for run in group)
            rows.append(
                (
                    f"{configuration}, `max_time={budget:g}`: end of `train()` / budget, median, worst ({len(group)}"
                    " runs); unused, median, largest; steps (median); complete final checkpoints; stopped on the"
                    " budget",
                    f"{statistics.median(ratios):.4f}, {max(ratios):.4f}; {statistics.median(unused):.2f} s,"
                    f" {max(unused):.2f} s = {max(unused) / budget:.1%} of the budget;"
                    f" {statistics.median(run['steps'] for run in group):g};"
                    f" {complete}/{len(group)}; {stopped}/{len(group)}",
                    "≤ 1, complete, on the budget",
                    f"OVERRUN {overruns}/{len(group)}"
                    if overruns
                    else "PASS"
                    if complete == stopped == len(group)
                    else "MISS",
                )
            )
    lines = ["| Measurement | Result | Target | |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" + " |" * (4 - len(row)) for row in rows]
    return "\n".join(lines)


# 2. The agreement
_strategies_train = strategies.train


def variant_train(output_dir, max_steps, mechanism, short=False):
    """`bench_time_strategies.train` with one of VARIANTS: its "steps", or its "new" (the time strategies, 10 h) with
    the extra training arguments of `mechanism`."""
    extra, checks = VARIANTS[mechanism], []
    all_reduce = torch.distributed.all_reduce

    def counted(*args, **kwargs):  # the schedule's checks: DDP and the Trainer's gathers do not call it
        checks.append(1)
        return all_reduce(*args, **kwargs)

    with mock.patch.object(torch.distributed, "all_reduce", counted):
        if extra is None:
            run = _strategies_train(output_dir, max_steps, "steps", short)
        else:
            with mock.patch.object(strategies, "TrainingArguments", functools.partial(TrainingArguments, **extra)):
                run = _strategies_train(output_dir, max_steps, "new", short)
    return {**run, "checks": len(checks)}


def patched_strategies():
    """`bench_time_strategies` running VARIANTS."""
    patches = [mock.patch.object(strategies, "train", variant_train)]
    if os.environ.get(QUICK_ENVIRONMENT):
        patches += [mock.patch.object(strategies, name, value) for name, value in QUICK.items()]
    stack = contextlib.ExitStack()
    for patch in patches:
        stack.enter_context(patch)
    return stack


def worker(output_dir, pairs, result_path):
    """Runs on each of the processes torchrun starts; rank 0 writes the results to `result_path`."""
    strategies.quiet()
    without_stop = tuple(flag for flag in _AGREED_FLAGS if flag not in _STOP_REASONS)
    with patched_strategies():
        runs = strategies.throughput_runs(output_dir, pairs, tuple(VARIANTS))
        allreduce = {"now": strategies.allreduce_seconds()}
        with mock.patch.object(strategies, "_AGREED_FLAGS", without_stop):
            allreduce["without stop reasons"] = strategies.allreduce_seconds()
    if torch.distributed.get_rank() == 0:
        Path(result_path).write_text(json.dumps({"runs": runs, "allreduce": allreduce}), encoding="utf-8")


def agreement_table(result, load):
    """The 2-process comparison, as a markdown table."""
    runs = result["runs"]
    summary = strategies.summarize(runs, {})
    speed, step, decision, noise = (
        summary["steps_per_second"],
        summary["step_seconds"],
        summary["decision_seconds"],
        summary["noise"],
    )
    target = strategies.TARGETS[2]["ratio"]
    noisy = max(1 - noise["min"], noise["max"] - 1) > 1 - target
    rows = [
        ("Machine", strategies.machine(load)),
        (
            "2 processes: steps/s (medians; a step); A/A noise",
            "; ".join(f"{LABELS[m]} {speed[m]:.1f} ({step[m] * 1e3:.2f} ms)" for m in VARIANTS)
            + f"; A/A noise {noise['min']:.3f} to {noise['max']:.3f} ({len(runs['steps'])} rounds)",
        ),
    ]
    rows.append(
        (
            f"2 processes: agreed checks per {len(runs['time'][0]['ends'])}-step run (median)",
            "; ".join(f"{LABELS[m]} {statistics.median(run['checks'] for run in runs[m]):g}" for m in VARIANTS),
        )
    )
    for mechanism in ("max_time", "jit"):
        rounds = strategies.distribution(
            [v["steps_per_second"] / t["steps_per_second"] for t, v in zip(runs["time"], runs[mechanism])]
        )
        rows.append(
            (
                f"2 processes, {LABELS[mechanism]}: throughput ratio to the time strategies alone (of the medians);"
                " cost per step: in `on_step_end` (mean, median over the runs), in seconds per step",
                f"{speed[mechanism] / speed['time']:.4f} (median of the rounds' ratios: {rounds['median']:.4f}, from"
                f" {rounds['min']:.3f} to {rounds['max']:.3f}); {(decision[mechanism] - decision['time']) * 1e6:+.1f}"
                f" µs; {(1 / speed[mechanism] - 1 / speed['time']) * 1e6:+.0f} µs ="
                f" {speed['time'] / speed[mechanism] - 1:+.2%} of a step",
            )
        )
    for mechanism, ratios in summary["ratios"].items():
        row = strategies.target_row(
            f"2 processes, {LABELS[mechanism]}: throughput ratio to step-based (of the medians)",
            f"{ratios['ratio']:.4f} (median of the rounds' ratios: {ratios['rounds']['median']:.4f}; in CPU time:"
            f" {ratios['cpu']:.4f}); `on_step_end` {(decision[mechanism] - decision['steps']) * 1e6:+.1f} µs",
            ratios["ratio"],
            target,
            at_least=True,
        )
        rows.append((*row[:3], f"{row[3]} (noisy)" if noisy else row[3]))
    allreduce = result["allreduce"]
    rows.append(
        (
            "2 processes: one blocking all-reduce of the agreed flags (+ the proposal), microbenchmark: without the"
            f" stop reasons ({len(_AGREED_FLAGS) - len(_STOP_REASONS) + 1} floats), now ({len(_AGREED_FLAGS) + 1})",
            f"{allreduce['without stop reasons'] * 1e6:.0f} µs, {allreduce['now'] * 1e6:.0f} µs",
        )
    )
    lines = ["| Measurement | Result | Target | |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" + " |" * (4 - len(row)) for row in rows]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: budgets of 3 and 6 s, 1 rep, 2 rounds")
    parser.add_argument("--budgets", type=float, nargs="+", help="max_time of the runs, seconds (default: 6 12 24)")
    parser.add_argument("--reps", type=int, help="runs of each configuration and budget (default: 3)")
    parser.add_argument("--pairs", type=int, help="rounds of the 2-process runs (default: 4)")
    parser.add_argument("--only", choices=("budget", "epoch", "agreement"), help="run one of the three parts")
    parser.add_argument("--output-dir", help="where the runs save checkpoints (default: a temporary folder)")
    parser.add_argument("--worker", metavar="RESULT", help=argparse.SUPPRESS)  # set on the processes torchrun starts
    options = parser.parse_args()
    if options.worker:
        return worker(options.output_dir, options.pairs, options.worker)
    budgets = options.budgets or ([3.0] if options.quick else [12.0])
    reps = options.reps or 1
    pairs = options.pairs or 2
    if options.quick:
        os.environ[QUICK_ENVIRONMENT] = "1"
    if pairs < 2:
        parser.error("--pairs must be at least 2 (the noise is measured between rounds)")

    strategies.quiet()
    started, load = time.monotonic(), os.getloadavg()[0]
    tables = []
    with tempfile.TemporaryDirectory() as temporary:
        output_dir = Path(options.output_dir or temporary)
        if options.only in (None, "budget"):
            strategies.progress(f"1 process: time budgets {', '.join(f'{b:g}' for b in budgets)} s, {reps} reps")
            runs = budget_runs(output_dir / "budget", budgets, reps)
            tables += [budget_table(runs, budgets, load), runs_table(runs)]
        if options.only in (None, "epoch"):
            budget = EPOCH_BUDGET / 2 if options.quick else EPOCH_BUDGET
            strategies.progress(f"1 process: nothing timed before the stop, old and new rule, {budget:g} s")
            tables.append(epoch_table(output_dir / "epoch", budget, reps, os.getloadavg()[0], not options.quick))
        if options.only in (None, "agreement"):
            strategies.progress(f"2 processes (torchrun): the agreement with the stop flag, {pairs} rounds")
            agreement_load = os.getloadavg()[0]
            # `bench_time_strategies.run_two_processes` launches its own file: here, this one
            with mock.patch.object(strategies, "__file__", str(Path(__file__).resolve())):
                result = strategies.run_two_processes(output_dir / "two", pairs)
            tables.append(agreement_table(result, agreement_load))
    print("\n\n".join(tables))
    print(f"\nTotal time: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
