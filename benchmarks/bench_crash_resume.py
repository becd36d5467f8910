"""Soak test of crash-safe resume: a job saving on time is SIGKILLed at random, again and again, and restarted with
`resume_from_checkpoint=True`; nobody touches its output folder in between.

Each trial trains a tiny Llama (CPU, one thread, update steps slowed to `--step-seconds` by a callback) with
`save_strategy="time"`, `save_time=--save-time`, `save_total_limit=2`, in a process forked from a server that has
imported transformers once. Half of the kills come from outside at a random moment of training (most of them between
two saves); the other half from inside, at a random file write of a random save (model weights, `torch.save` files,
`trainer_state.json`), so that kills in the middle of a save are well represented. Then a fresh process resumes with
`resume_from_checkpoint=True` and trains on.

It reports, per kind of kill:
- resumes that worked by themselves: the resumed job finished, from the newest checkpoint whose `trainer_state.json`
  had been written (target: all);
- training time lost per kill: from the moment the checkpoint it resumed from was complete to the kill (target: at
  most `save_time` + one update step + one save, the save that was running when it was killed).

    .venv/bin/python benchmarks/bench_crash_resume.py                 # what `make bench` runs, about 4 minutes
    .venv/bin/python benchmarks/bench_crash_resume.py --kills 2       # a smoke run, about 30 s on a quiet machine
    PYTHONPATH=<pristine 5.24.0>/src .venv/bin/python benchmarks/bench_crash_resume.py --save-steps 25   # stock
"""

import argparse
import json
import math
import multiprocessing
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from tests.trainer.test_trainer_checkpoint_resume import KillSwitch, RandomTokens, tiny_model  # noqa: E402
from transformers import Trainer, TrainerCallback, TrainingArguments  # noqa: E402
from transformers.trainer_callback import TrainerState  # noqa: E402


MAX_STEPS = 400
CHILD_TIMEOUT_SECONDS = 120


class Timeline(TrainerCallback):
    """Slows each update step to `step_seconds` and appends to `path` a line per event, with `time.monotonic()`
    (one clock for every process of the machine): `start STEP T` when training starts, `step STEP T` at each step end,
    `saved STEP T` once the checkpoint of STEP has its `trainer_state.json`."""

    def __init__(self, path, step_seconds, stop_after=None):
        self.path, self.step_seconds, self.stop_after = path, step_seconds, stop_after
        self.file = open(path, "a", buffering=1, encoding="utf-8")

    def write(self, kind, step):
        self.file.write(f"{kind} {step} {time.monotonic():.6f}\n")

    def on_train_begin(self, args, state, control, **kwargs):
        self.write("start", state.global_step)
        self.first_step, self.step_started = state.global_step, time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        time.sleep(max(0.0, self.step_seconds - (time.monotonic() - self.step_started)))
        self.write("step", state.global_step)
        if self.stop_after is not None and state.global_step - self.first_step >= self.stop_after:
            control.should_training_stop = True  # a resumed job only needs to show that it trains on

    def on_step_begin(self, args, state, control, **kwargs):
        self.step_started = time.monotonic()


def train(output_dir, step_seconds, save_time, save_steps, kill_at=None, kill_on_save=0, resume=False):
    torch.set_num_threads(1)
    timeline = Timeline(os.path.join(output_dir, "timeline.txt"), step_seconds, stop_after=3 if resume else None)
    if kill_at is not None:
        KillSwitch(kill_at, kill_on_save).install()
        reached = KillSwitch.reached

        def reached_and_noted(switch, point):
            if switch.armed() and point == switch.point:
                timeline.write("killed", -1)
            reached(switch, point)

        KillSwitch.reached = reached_and_noted
    if hasattr(Trainer, "_save_trainer_state"):  # this build: a temporary file, flushed, then renamed
        save_trainer_state = Trainer._save_trainer_state

        def noted_save_trainer_state(trainer, output_dir, state=None):
            save_trainer_state(trainer, output_dir, state)
            if os.path.basename(os.path.normpath(output_dir)).startswith("checkpoint-"):
                timeline.write("saved", (state or trainer.state).global_step)

        Trainer._save_trainer_state = noted_save_trainer_state
    else:  # stock: `TrainerState.save_to_json` writes it in place
        save_to_json = TrainerState.save_to_json

        def noted_save_to_json(state, json_path):
            save_to_json(state, json_path)
            if os.path.basename(os.path.dirname(json_path)).startswith("checkpoint-"):
                timeline.write("saved", state.global_step)

        TrainerState.save_to_json = noted_save_to_json
    schedule = {"save_strategy": "steps", "save_steps": save_steps} if save_steps else {}
    schedule = schedule or {"save_strategy": "time", "save_time": save_time}
    args = TrainingArguments(
        output_dir,
        max_steps=MAX_STEPS,
        per_device_train_batch_size=2,
        save_total_limit=2,
        report_to=[],
        disable_tqdm=True,
        use_cpu=True,
        logging_strategy="no",
        **schedule,
    )
    trainer = Trainer(model=tiny_model(), args=args, train_dataset=RandomTokens(length=MAX_STEPS * 2))
    trainer.add_callback(timeline)
    trainer.train(resume_from_checkpoint=resume or None)


def run_and_exit(kwargs):
    with open(os.path.join(kwargs["output_dir"], "job.log"), "a", encoding="utf-8") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        train(**kwargs)
    except BaseException as error:
        print(f"{type(error).__name__}: {error}", file=sys.stderr, flush=True)
        os._exit(1)
    os._exit(0)


def read_timeline(output_dir):
    with open(os.path.join(output_dir, "timeline.txt"), encoding="utf-8") as f:
        return [(kind, int(step), float(t)) for kind, step, t in (line.split() for line in f if line.strip())]


def trial(context, draw, args, from_outside):
    output_dir = tempfile.mkdtemp(prefix="crash-resume-")
    job = {"output_dir": output_dir, "step_seconds": args.step_seconds, "save_time": args.save_time}
    job["save_steps"] = args.save_steps
    if from_outside:
        process = context.Process(target=run_and_exit, args=(job,))
        process.start()
        while not os.path.exists(os.path.join(output_dir, "timeline.txt")) or not read_timeline(output_dir):
            time.sleep(0.01)
        time.sleep(draw.uniform(1.5, 4.5) * args.save_time)
        os.kill(process.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        process.join()
    else:
        killed = {"kill_at": f"write-{draw.randint(1, 6)}", "kill_on_save": draw.randint(2, 4)}
        process = context.Process(target=run_and_exit, args=({**job, **killed},))
        process.start()
        process.join(CHILD_TIMEOUT_SECONDS)
        killed_at = next((t for kind, _, t in read_timeline(output_dir) if kind == "killed"), None)
    events = read_timeline(output_dir)
    saved = {step: t for kind, step, t in events if kind == "saved"}
    step_ends = [t for kind, _, t in events if kind == "step"]
    if process.exitcode != -signal.SIGKILL or killed_at is None or not saved:
        shutil.rmtree(output_dir, ignore_errors=True)
        return None  # finished or killed before its first save: not a kill this soak measures

    # Killed in the middle of a save: it left a checkpoint folder without `trainer_state.json`
    folders = [path for path in Path(output_dir).glob("checkpoint-*") if path.is_dir()]
    mid_save = any(not (path / "trainer_state.json").exists() for path in folders)

    process = context.Process(target=run_and_exit, args=({**job, "resume": True},))
    process.start()
    process.join(CHILD_TIMEOUT_SECONDS)
    resumed = [step for kind, step, _ in read_timeline(output_dir)[len(events) :] if kind == "start"]
    newest = max(saved)
    ok = process.exitcode == 0 and resumed == [newest]
    if not ok:
        with open(os.path.join(output_dir, "job.log"), encoding="utf-8") as f:
            errors = [line for line in f.read().splitlines() if "Error" in line] or ["no error"]
        print(f"  resume failed (newest complete checkpoint: {newest}): {errors[-1][:200]}")
    shutil.rmtree(output_dir, ignore_errors=True)
    steps = sorted(b - a for a, b in zip(step_ends, step_ends[1:]))
    return {
        "ok": ok,
        "lost": killed_at - saved[newest],
        "step": steps[len(steps) // 2] if steps else 0.0,
        "save": statistics.median(saved[s] - max(t for t in step_ends if t <= saved[s]) for s in saved),
        "mid_save": mid_save,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10, help="number of kills (half from outside, half inside saves)")
    parser.add_argument("--save-time", type=float, default=0.5, help="save_time, seconds")
    parser.add_argument("--save-steps", type=int, default=0, help="save by steps instead (for stock transformers)")
    parser.add_argument("--step-seconds", type=float, default=0.02, help="duration of an update step, seconds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__"])
    draw = random.Random(args.seed)
    results = {"outside": [], "inside": []}
    for i in range(args.kills):
        from_outside = i % 2 == 0
        result = None
        while result is None:
            result = trial(context, draw, args, from_outside)
        results["outside" if from_outside else "inside"].append(result)
        print(
            f"kill {i + 1}: {json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()})}"
        )

    everything = results["outside"] + results["inside"]
    step, save = statistics.median(r["step"] for r in everything), statistics.median(r["save"] for r in everything)
    schedule = f"save_steps={args.save_steps}" if args.save_steps else f"save_time={args.save_time}s"
    bound = (args.save_steps * step if args.save_steps else args.save_time) + step + save
    print(
        f"\n{schedule}, update step {step * 1000:.1f} ms, save {save * 1000:.1f} ms (medians); bound {bound:.3f} s\n"
    )
    print("| kills | of them mid-save | resumed by themselves | time lost per resumed kill, median / max | in bound |")
    print("|---|---|---|---|---|")
    for kind, rows in [
        ("from outside, random moment", results["outside"]),
        ("inside a save, random write", results["inside"]),
    ]:
        # A job that did not resume by itself loses everything until someone cleans up: only resumes are timed
        lost = [r["lost"] for r in rows if r["ok"]] or [math.nan]
        resumed = f"{sum(r['ok'] for r in rows)}/{len(rows)}"
        print(
            f"| {len(rows)} {kind} | {sum(r['mid_save'] for r in rows)} | {resumed} "
            f"| {statistics.median(lost):.3f} s / {max(lost):.3f} s | {sum(value <= bound for value in lost)} |"
        )
    ok = sum(r["ok"] for r in everything)
    print(f"\nresumes that worked by themselves: {ok}/{len(everything)} (target: all)")


if __name__ == "__main__":
    main()
