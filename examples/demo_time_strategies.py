"""Step-based vs time-based logging, evaluation and saving when training slows down mid-run.

Trains a tiny Llama on the CPU twice on the same synthetic data, whose second half has 4x longer sequences (each step
really does more work). One run logs, evaluates and saves with `logging_time="1s"`, `eval_time="3s"` and
`save_time="5s"`; the other every N steps, with N tuned so that its events also come every 1 s, 3 s and 5 s during the
fast first half. Prints both timelines and draws them on one wall-clock axis.

    python examples/demo_time_strategies.py --output-dir demo-output
"""

import argparse
import shutil
import statistics
import time
from pathlib import Path

import matplotlib


matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainerCallback, TrainingArguments  # noqa: E402
from transformers.trainer_callback import PrinterCallback, ProgressCallback  # noqa: E402
from transformers.utils import logging  # noqa: E402


INTERVALS = {"logging": 1, "eval": 3, "save": 5}  # seconds, for both runs
FAST_LEN, SLOW_LEN, BATCH = 128, 512, 8  # the slow phase has 4x longer sequences
FAST_SECONDS, SLOW_SECONDS = 6.0, 9.0  # how long each phase should last, whatever the machine
STYLE = {  # one marker per kind of event
    "log": {"marker": "|", "color": "tab:blue", "markersize": 16},
    "eval": {"marker": "o", "color": "tab:orange", "markersize": 9},
    "save": {"marker": "s", "color": "tab:green", "markersize": 9},
}


class SyntheticData(torch.utils.data.IterableDataset):
    """Random token ids: `fast_steps` batches of short sequences, then `slow_steps` batches of long ones."""

    def __init__(self, fast_steps, slow_steps, vocab_size):
        self.lengths = [FAST_LEN] * fast_steps * BATCH + [SLOW_LEN] * slow_steps * BATCH
        self.vocab_size = vocab_size

    def __iter__(self):
        generator = torch.Generator().manual_seed(0)
        for length in self.lengths:
            yield {"input_ids": torch.randint(self.vocab_size, (length,), generator=generator)}


def collate(examples):
    input_ids = torch.stack([example["input_ids"] for example in examples])
    return {"input_ids": input_ids, "labels": input_ids}


class Timeline(TrainerCallback):
    """Wall-clock time (seconds since train() started) of every step end, log, evaluation and save."""

    def __init__(self):
        self.start, self.steps, self.events = 0.0, [], []

    def now(self):
        return time.monotonic() - self.start

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        self.steps.append(self.now())

    def on_log(self, args, state, control, logs=None, **kwargs):
        if "loss" in logs:  # training logs only: evaluation metrics and the final summary are logged too
            self.events.append((self.now(), state.global_step, "log"))

    def on_evaluate(self, args, state, control, **kwargs):
        self.events.append((self.now(), state.global_step, "eval"))

    def on_save(self, args, state, control, **kwargs):
        self.events.append((self.now(), state.global_step, "save"))


def train(output_dir, fast_steps, slow_steps, **schedule):
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4
    )
    args = TrainingArguments(
        output_dir=str(output_dir),
        max_steps=fast_steps + slow_steps,
        per_device_train_batch_size=BATCH,
        per_device_eval_batch_size=BATCH,
        learning_rate=1e-3,
        use_cpu=True,
        report_to="none",
        disable_tqdm=True,
        save_only_model=True,
        save_total_limit=2,
        remove_unused_columns=False,
        **schedule,
    )
    eval_data = [{"input_ids": torch.randint(config.vocab_size, (FAST_LEN,))} for _ in range(4 * BATCH)]
    timeline = Timeline()
    trainer = Trainer(
        model=LlamaForCausalLM(config),
        args=args,
        train_dataset=SyntheticData(fast_steps, slow_steps, config.vocab_size),
        eval_dataset=eval_data,
        data_collator=collate,
        callbacks=[timeline],
    )
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.train()
    return timeline


def calibrate(output_dir):
    """Seconds per update step in each phase on this machine, past the warm-up of the first steps of each."""
    steps = train(output_dir, 50, 14, logging_strategy="no", eval_strategy="no", save_strategy="no").steps
    gaps = [b - a for a, b in zip(steps, steps[1:])]
    # The first quartile rather than the median: a brief hiccup of a busy machine should not stretch the runs
    return statistics.quantiles(gaps[15:49], n=4)[0], statistics.quantiles(gaps[53:], n=4)[0]


def print_timeline(name, timeline, change):
    print(f"\n{name}\n{'time (s)':>9} {'step':>5}  event  gap since the previous one of its kind")
    last, changed = {}, False
    for t, step, kind in timeline.events:
        if not changed and t > change:
            print(f"{'-' * 12} t = {change:.1f} s: sequences get 4x longer, steps get slower {'-' * 12}")
            changed = True
        gap = f"{t - last[kind]:5.1f} s" if kind in last else ""
        print(f"{t:9.1f} {step:5d}  {kind:<5}  {gap}")
        last[kind] = t


def log_spacing(times, change, end):
    """How far apart the logs at `times` are before the slowdown at `change`, then until `end`.

    A phase is measured by the gaps between two consecutive logs that both fall in it (the median), so a phase needs
    two logs to have a spacing; the gap across the slowdown belongs to neither phase.
    """

    def spacing(start, stop):
        inside = [t for t in times if start < t <= stop]
        if len(inside) < 2:
            return f"{'a single log' if inside else 'no log'} in {stop - start:.1f} s"
        return f"a log every {statistics.median(b - a for a, b in zip(inside, inside[1:])):.1f} s"

    return f"{spacing(0.0, change)}, then {spacing(change, end).removeprefix('a log ')}"


def plot(runs, slowdown, path):
    fig, axes = plt.subplots(2, 1, sharex=True, figsize=(11, 5.5))
    for ax, (name, (timeline, config, change)) in zip(axes, runs.items()):
        end = max(timeline.steps[-1], timeline.events[-1][0])
        ax.axvspan(change, end, color="0.92", label=f"slow phase: 4x longer sequences, steps {slowdown:.1f}x slower")
        ax.axvline(end, color="black", linewidth=1.5, label="end of training")
        for lane, kind in enumerate(("log", "eval", "save")):
            times = [t for t, _, k in timeline.events if k == kind]
            ax.plot(times, [-lane] * len(times), linestyle="none", markeredgewidth=2, label=kind, **STYLE[kind])
        ax.set_yticks([0, -1, -2], ["log", "eval", "save"])
        ax.set_ylim(-2.7, 0.7)
        ax.set_ylabel(name, fontsize=13, fontweight="bold")
        spacing = log_spacing([t for t, _, kind in timeline.events if kind == "log"], change, end)
        ax.set_title(f"{config}:  {spacing}", loc="left", fontsize=10)
        ax.grid(axis="x", color="0.85")
    axes[-1].set_xlim(0, max(ax.get_xlim()[1] for ax in axes))
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[-1].set_xlabel("wall-clock seconds since train() started")
    handles, labels = axes[0].get_legend_handles_labels()
    order = [labels.index(label) for label in ("log", "eval", "save")] + [0, 1]
    fig.legend([handles[i] for i in order], [labels[i] for i in order], loc="lower center", ncol=5, frameon=False)
    fig.suptitle("Training slows down mid-run: step-based events drift apart, time-based ones stay evenly spaced")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=120)


def train_and_print(output_dir, name, values, fast_steps, slow_steps):
    strategies = {f"{kind}_strategy": name for kind in ("logging", "eval", "save")}
    timeline = train(output_dir / "runs" / name, fast_steps, slow_steps, **strategies, **values)
    config = ", ".join(f"{key}={value!r}" for key, value in values.items())
    change = timeline.steps[fast_steps - 1]
    print_timeline(f"{name}-based run ({config})", timeline, change)
    return timeline, config, change


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output-dir", type=Path, default=Path("demo-output"))
    output_dir = parser.parse_args().output_dir
    shutil.rmtree(output_dir / "runs", ignore_errors=True)
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    torch.set_num_threads(1)  # steady step times, even when other processes share the cores

    fast_step, slow_step = calibrate(output_dir / "runs" / "calibration")
    fast_steps, slow_steps = round(FAST_SECONDS / fast_step), round(SLOW_SECONDS / slow_step)
    print(f"An update step takes {fast_step * 1000:.0f} ms, then {slow_step * 1000:.0f} ms on 4x longer sequences.")
    print(f"Each run trains {fast_steps} fast steps, then {slow_steps} slow ones.")

    # The time-based run goes first: its fast phase tells how many steps make 1 s, 3 s and 5 s, events included
    by_time = {f"{kind}_time": f"{seconds}s" for kind, seconds in INTERVALS.items()}
    time_run = train_and_print(output_dir, "time", by_time, fast_steps, slow_steps)
    steps_per_second = fast_steps / time_run[2]
    by_steps = {f"{kind}_steps": max(1, round(seconds * steps_per_second)) for kind, seconds in INTERVALS.items()}
    runs = {"steps": train_and_print(output_dir, "steps", by_steps, fast_steps, slow_steps), "time": time_run}

    path = output_dir / "time_strategies_timeline.png"
    plot(runs, slow_step / fast_step, path)
    print(f"\nTimeline plot: {path}")


if __name__ == "__main__":
    main()
