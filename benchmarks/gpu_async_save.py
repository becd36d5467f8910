"""One GPU, one shot: synchronous saves, ours (`save_async=True`) and PyTorch DCP's `async_save` (thread and process
checkpointers), side by side, for a 1B-parameter Llama.

A `LlamaForCausalLM` built from a config (hidden size 2048, 16 layers, vocabulary of 32,000: 0.95B parameters; no
download), in bf16 (parameters and AdamW states: a checkpoint of about 5.7 GB), trains with `adamw_torch_fused` on
random token ids, saving every `--save-steps` update steps. One run per variant, each in a fresh process (`--rounds 2`
repeats them in reversed order):

- none: no saves; sync: synchronous saves (stock);
- ours: `save_async=True`: the states copied into pinned host buffers on the training thread, written by a thread;
- dcp-thread, dcp-process: `torch.distributed.checkpoint.async_save` of the model's and the optimizer's state dicts
  with a `FileSystemWriter` (DCP's format), driven by `bench_async_save.DcpTrainer` (as a Trainer integration would:
  the previous save waited for, `trainer_state.json` once the write is complete), with `DefaultStager`'s defaults
  on a GPU (pinned and shared memory, staging on its own CUDA stream and thread while the next step computes, waited
  for before that step's optimizer step); the thread checkpointer, or the process one (a one-process gloo group).

Each run notes, in a callback after `DefaultFlowCallback`, `time.time()` at each step begin and at each step end (after
`torch.cuda.synchronize()`, in every run alike), skips the final save (outside what is measured) and reports:

- the pause per save: from the end of the step that saves to the beginning of the next (for DCP's staging in the
  background, plus the wait for it before the next optimizer step), the first save of a run apart;
- the staging: the copy of the states into pinned host memory (ours: `_stage_checkpoint`, the device synchronized;
  DCP: from the save's start until its stager's copy is complete);
- throughput: steps per second over the window from the end of the first step to the end of the last, or to the
  moment the last checkpoint in it is complete (its `trainer_state.json`), if that is later; the training time lost
  per save: the window minus that of the run without saves, over the saves;
- the background write: from the end of a save's pause to its `trainer_state.json` (mtime);
- the host CPU time (the process and its children) per save, above that of the run without saves;
- the peak host memory above the start of `train()`: the RSS of the process and its children (psutil, every 50 ms),
  and their private memory, shared memory counted once (`bench_async_save.PeakRss`); the peak GPU memory allocated.

It prints one markdown table. About 4 minutes on an H100 or H200 (80 GB or more of GPU memory, 40 GB of host memory,
30 GB of free disk under `--output-dir`); `--budget` seconds (270 by default) stops it before a run that would not
finish in time, with the table of the runs done.

    python benchmarks/gpu_async_save.py                     # with transformers from fork/ (PYTHONPATH=fork/src)
    python benchmarks/gpu_async_save.py --dry-run           # a tiny model on the CPU: checks the script, no figures
"""

import argparse
import dataclasses
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


MODEL_1B = {
    "hidden_size": 2048,
    "intermediate_size": 5632,
    "num_hidden_layers": 16,
    "num_attention_heads": 16,
    "num_key_value_heads": 16,
    "vocab_size": 32000,
}
MODEL_TINY = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "vocab_size": 1000,
}
VARIANTS = ("none", "sync", "ours", "dcp-thread", "dcp-process")
LABELS = {
    "none": "no saves",
    "sync": "synchronous",
    "ours": "ours (`save_async`)",
    "dcp-thread": "DCP thread",
    "dcp-process": "DCP process",
}
CHILD_TIMEOUT_SECONDS = 240


def child(job):
    """One run, in its own process: prints its measures as one JSON line."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.bench_async_save import DcpTrainer, PeakRss, TimedStaging, staging_times
    from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainerCallback, TrainingArguments

    cuda = not job["dry_run"]
    torch.manual_seed(0)
    with torch.device("cuda" if cuda else "cpu"):
        model = LlamaForCausalLM(LlamaConfig(**job["model"])).to(torch.bfloat16)

    class Recorder(TrainerCallback):
        def __init__(self):
            self.begins, self.ends, self.saves = {}, {}, []

        def on_step_begin(self, args, state, control, **kwargs):
            self.begins[state.global_step + 1] = time.time()

        def on_step_end(self, args, state, control, **kwargs):
            if cuda:
                torch.cuda.synchronize()
            if state.global_step >= job["steps"]:
                control.should_save = False  # the final save is outside what is measured
            if control.should_save:
                self.saves.append(state.global_step)
            self.ends[state.global_step] = time.time()

    class Tokens(torch.utils.data.Dataset):
        def __init__(self):
            generator = torch.Generator().manual_seed(0)
            shape = (job["steps"] * job["batch"], job["sequence"])
            self.ids = torch.randint(0, job["model"]["vocab_size"], shape, generator=generator)

        def __len__(self):
            return len(self.ids)

        def __getitem__(self, i):
            return {"input_ids": self.ids[i], "labels": self.ids[i]}

    variant = job["variant"]
    saving = {"save_strategy": "no"}
    if variant != "none":
        saving = {"save_strategy": "steps", "save_steps": job["save_steps"]}
    if variant == "ours":
        saving["save_async"] = True
    args = TrainingArguments(
        job["output_dir"],
        max_steps=job["steps"],
        per_device_train_batch_size=job["batch"],
        learning_rate=1e-5,
        optim="adamw_torch_fused",
        report_to=[],
        disable_tqdm=True,
        logging_strategy="no",
        use_cpu=not cuda,
        dataloader_pin_memory=cuda,
        **saving,
    )
    recorder = Recorder()
    kwargs = {"model": model, "args": args, "train_dataset": Tokens(), "callbacks": [recorder]}
    if variant.startswith("dcp-"):
        # DefaultStager's defaults on a GPU; on the CPU (a dry run), pinned memory and non-blocking copies need CUDA
        options = {"checkpointer": variant.split("-")[1], "writer": "fs", "async_staging": True}
        options.update(shared_memory=True, pinned=cuda, non_blocking=cuda)
        trainer = DcpTrainer(dcp_options=options, **kwargs)
    elif variant == "ours":
        trainer = TimedStaging(**kwargs)
    else:
        trainer = Trainer(**kwargs)
    sampler = PeakRss()
    rss_before, private_before = sampler.sample()
    cpu_before = sampler.cpu_seconds()
    sampler.start()
    trainer.train()
    sampler.running = False
    sampler.join()
    cpu_seconds = sampler.cpu_seconds() - cpu_before
    markers = {}
    for step in recorder.saves:
        path = Path(job["output_dir"]) / f"checkpoint-{step}" / "trainer_state.json"
        deadline = time.time() + 60
        while not path.exists() and time.time() < deadline:
            time.sleep(0.01)
        markers[step] = path.stat().st_mtime if path.exists() else math.nan
    begins, ends, steps = recorder.begins, recorder.ends, job["steps"]
    staged, waits = staging_times(trainer, recorder.saves)
    checkpoint_bytes = 0
    if recorder.saves:
        folder = Path(job["output_dir"]) / f"checkpoint-{recorder.saves[0]}"
        checkpoint_bytes = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    result = {
        "window": max([ends[steps]] + list(markers.values())) - ends[1],
        "window_steps": steps - 1,
        "step": statistics.median(ends[s] - begins[s] for s in ends if s > 1 and s - 1 not in recorder.saves),
        "pauses": [begins[s + 1] - ends[s] + wait for s, wait in zip(recorder.saves, waits)],
        "staging": staged,
        "writes": [markers[s] - begins[s + 1] for s in recorder.saves],
        "saves": len(recorder.saves),
        "rss_before": rss_before,
        "rss_peak": max(sampler.peak, rss_before),
        "private_before": private_before,
        "private_peak": max(sampler.private_peak, private_before),
        "cpu_seconds": cpu_seconds,
        "gpu_peak": torch.cuda.max_memory_allocated() if cuda else 0,
        "parameters": sum(p.numel() for p in model.parameters()),
        "checkpoint_bytes": checkpoint_bytes,
        "device": torch.cuda.get_device_name() if cuda else "CPU (dry run)",
        "torch": torch.__version__,
    }
    print("RESULT " + json.dumps(result), flush=True)


def run(job):
    output_dir = tempfile.mkdtemp(prefix=f"gpu-async-save-{job['variant']}-", dir=job["root"])
    try:
        completed = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps({**job, "output_dir": output_dir})],
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        print(f"  {job['variant']}: no result within {CHILD_TIMEOUT_SECONDS} s", flush=True)
        return None
    finally:
        shutil.rmtree(output_dir, ignore_errors=True)
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode != 0 or not lines:
        print(f"  {job['variant']}: the run failed (exit {completed.returncode}):\n{completed.stderr[-3000:]}")
        return None
    os.sync()  # flush what this run wrote, outside what the next one times
    return json.loads(lines[-1][len("RESULT ") :])


def has_save_async():
    from transformers import TrainingArguments

    return "save_async" in {field.name for field in dataclasses.fields(TrainingArguments)}


def has_dcp():
    try:
        from torch.distributed.checkpoint import FileSystemWriter, async_save  # noqa: F401
        from torch.distributed.checkpoint.staging import DefaultStager, StagingOptions  # noqa: F401
    except ImportError:
        return False
    return True


def med(values):
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def table(runs, variants):
    columns = [v for v in variants if runs[v]]
    first = next(runs[v][0] for v in columns)
    size = max(r["checkpoint_bytes"] for v in columns for r in runs[v]) / 1e9
    lines = [
        f"{first['device']}, torch {first['torch']}; {first['parameters'] / 1e6:,.0f}M parameters in bf16, AdamW "
        f"(fused); checkpoint {size:,.1f} GB (the largest of the variants); {len(runs['none'])} round(s)",
        "",
        "| | " + " | ".join(LABELS[v] for v in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]

    def row(name, value, digits=3, saving=True):
        cells = []
        for v in columns:
            number = value(v) if (v != "none" or not saving) and runs[v] else math.nan
            cells.append(number if isinstance(number, str) else "-" if math.isnan(number) else f"{number:.{digits}f}")
        lines.append(f"| {name} | {' | '.join(cells)} |")

    def pauses(v, first):
        return [p for r in runs[v] for p in (r["pauses"][:1] if first else r["pauses"][1:])]

    def lost(v):
        if "none" not in columns:
            return math.nan
        return med([(r["window"] - b["window"]) / r["saves"] for r, b in zip(runs[v], runs["none"])])

    row("update step, s (median, steps not after a save)", lambda v: med([r["step"] for r in runs[v]]), saving=False)
    row("saves in the window", lambda v: med([r["saves"] for r in runs[v]]), 0)
    row("pause per save, s (median of all)", lambda v: med(pauses(v, True) + pauses(v, False)))
    row("pause of the first save of a run, s (median)", lambda v: med(pauses(v, True)))
    row("pause of the later saves, s (median)", lambda v: med(pauses(v, False)))
    row(
        "staging into pinned host memory, s (median)",
        lambda v: med([s for r in runs[v] for s in r["staging"]]) if v not in ("none", "sync") else math.nan,
    )
    row("throughput, steps/s (window)", lambda v: med([r["window_steps"] / r["window"] for r in runs[v]]), 2, False)
    row("training time lost per save, s", lost)
    row(
        "background write, pause end to trainer_state.json, s (median)",
        lambda v: med([w for r in runs[v] for w in r["writes"]]) if v != "sync" else math.nan,
    )
    row(
        "host CPU time per save above no saves, with children, s",
        lambda v: med([(r["cpu_seconds"] - b["cpu_seconds"]) / r["saves"] for r, b in zip(runs[v], runs["none"])])
        if "none" in columns
        else math.nan,
    )
    row(
        "peak host RSS above the start of train(), with children, GiB",
        lambda v: med([(r["rss_peak"] - r["rss_before"]) / 2**30 for r in runs[v]]),
        2,
        False,
    )
    row(
        "peak host private memory above the start, shared memory once, GiB",
        lambda v: med([(r["private_peak"] - r["private_before"]) / 2**30 for r in runs[v]]),
        2,
        False,
    )
    row("peak GPU memory allocated, GiB", lambda v: med([r["gpu_peak"] / 2**30 for r in runs[v]]), 2, False)
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="a tiny model on the CPU: checks the script only")
    parser.add_argument("--steps", type=int, default=130, help="update steps per run (the final save is skipped)")
    parser.add_argument("--save-steps", type=int, default=40, help="a save every this many update steps")
    parser.add_argument("--batch", type=int, default=8, help="sequences per update step")
    parser.add_argument("--sequence", type=int, default=1024, help="tokens per sequence")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of the runs, reversed every other round")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"of {', '.join(VARIANTS)}, comma-separated")
    parser.add_argument("--budget", type=float, default=270, help="seconds: no run is started that would end later")
    parser.add_argument("--output-dir", default=None, help="where checkpoints are written (default: the temp dir)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(json.loads(args.child))
    model = MODEL_1B
    if args.dry_run:
        model, args.steps, args.save_steps, args.batch, args.sequence = MODEL_TINY, 10, 3, 2, 32
    else:
        import torch

        if not torch.cuda.is_available():
            sys.exit("no CUDA device: run on a GPU, or with --dry-run")
    variants = [v for v in args.variants.split(",") if v]
    if unknown := set(variants) - set(VARIANTS):
        sys.exit(f"unknown variants: {', '.join(sorted(unknown))}")
    if not has_save_async() and "ours" in variants:
        print("save_async is absent from this transformers: no run of ours")
        variants.remove("ours")
    if not has_dcp():
        print("this torch lacks DCP's async_save or DefaultStager: no run of DCP")
        variants = [v for v in variants if not v.startswith("dcp-")]
    job = {"model": model, "dry_run": args.dry_run, "root": args.output_dir}
    job.update(steps=args.steps, save_steps=args.save_steps, batch=args.batch, sequence=args.sequence)
    started, longest = time.monotonic(), 0.0
    runs = {variant: [] for variant in VARIANTS}
    for round_index in range(args.rounds):
        for variant in variants if round_index % 2 == 0 else variants[::-1]:
            if time.monotonic() - started + 1.2 * longest > args.budget:
                print(f"  {variant}: not run, out of the budget of {args.budget:.0f} s", flush=True)
                continue
            run_started = time.monotonic()
            result = run({**job, "variant": variant})
            longest = max(longest, time.monotonic() - run_started)
            if result is None:
                continue
            runs[variant].append(result)
            print(
                f"  {variant}: window {result['window']:.2f} s, pauses {[round(p, 3) for p in result['pauses']]} s,"
                f" staging {[round(s, 3) for s in result['staging']]} s,"
                f" writes {[round(w, 2) for w in result['writes']]} s ({time.monotonic() - started:.0f} s)",
                flush=True,
            )
    print()
    if any(runs.values()):
        print(table(runs, VARIANTS))
    print(f"\n{time.monotonic() - started:.0f} s" + (" (dry run: no figures to keep)" if args.dry_run else ""))


if __name__ == "__main__":
    main()
