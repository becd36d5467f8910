"""The README's command line turns on time-based saving in a real training script, and shows it on any machine."""

import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path


SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "train_from_command_line.py"


class ReadmeCommandLineTest(unittest.TestCase):
    def test_paced_steps_give_a_checkpoint_every_save_time_and_one_at_the_end_however_fast_the_machine(self):
        # 20 steps of at least 0.06 s each. Trainer decides at the end of a step, before the example's callback makes
        # the step last long enough; still, by the end of the 5th step after a save, 4 paced steps (0.24 s) have
        # passed, more than save_time (0.2 s): the next save comes at the latest 5 steps later, however fast the
        # machine (and sooner, in steps, on a slower one)
        with tempfile.TemporaryDirectory() as output_dir:
            command = [sys.executable, str(SCRIPT), "--output_dir", output_dir, "--max_steps", "20"]
            command += ["--seconds_per_step", "0.06", "--save_strategy", "time", "--save_time", "0.2"]
            command += ["--use_cpu", "true", "--report_to", "none", "--disable_tqdm", "true"]
            result = subprocess.run(command, capture_output=True, text=True)
            self.assertEqual(result.returncode, 0, result.stderr[-2000:])
            self.assertIn("save_strategy='time' save_time=0.2", result.stdout)
            saves = [
                (int(step), float(at))
                for step, at in re.findall(r"saved checkpoint-(\d+) at ([\d.]+)s", result.stdout)
            ]
            steps, times = [step for step, _ in saves], [at for _, at in saves]
            self.assertEqual(steps[-1], 20, result.stdout)  # a "time" run ends with a save
            self.assertLessEqual(steps[0], 6, result.stdout)  # the clock may start after the first step
            self.assertLessEqual(max(b - a for a, b in zip(steps, steps[1:])), 5, result.stdout)
            # Saved by time: each mid-run checkpoint is at least save_time of training after the previous one
            # (times are printed to 0.01 s); the last one is the end of training, which comes when it comes
            mid_run = times[:-1]
            self.assertGreaterEqual(min(b - a for a, b in zip(mid_run, mid_run[1:])), 0.19, result.stdout)
            checkpoints = sorted(
                int(p.name.removeprefix("checkpoint-")) for p in Path(output_dir).glob("checkpoint-*")
            )
            self.assertEqual(checkpoints, steps)

    def test_time_budget_stops_the_example_by_itself_with_a_checkpoint_of_its_last_step(self):
        with tempfile.TemporaryDirectory() as output_dir:
            command = [sys.executable, str(SCRIPT), "--output_dir", output_dir, "--max_steps", "100000"]
            command += [
                "--seconds_per_step",
                "0.02",
                "--max_train_time",
                "5s",
                "--save_strategy",
                "time",
                "--save_time",
                "1s",
            ]
            command += ["--use_cpu", "true", "--report_to", "none", "--disable_tqdm", "true"]
            result = subprocess.run(command, capture_output=True, text=True)
            self.assertEqual(result.returncode, 0, result.stderr[-2000:])
            stop = re.search(
                r"Stopping training at step (\d+) of 100000: [\d.]+s are left of the time budget", result.stderr
            )
            self.assertIsNotNone(stop, result.stderr[-2000:])
            steps = [int(step) for step in re.findall(r"saved checkpoint-(\d+) at", result.stdout)]
            self.assertEqual(steps[-1], int(stop.group(1)), result.stdout)
            # Saves every second before the stop (until one is timed, 1s is kept in hand for a save: hence 5s)
            self.assertGreaterEqual(len(steps), 2, result.stdout)
