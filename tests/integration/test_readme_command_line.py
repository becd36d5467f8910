"""The README's command line turns on time-based saving in a real training script."""

import subprocess
import sys
import tempfile
import unittest
from pathlib import Path


SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "train_from_command_line.py"


class ReadmeCommandLineTest(unittest.TestCase):
    def test_save_strategy_time_from_the_command_line_saves_by_time_and_at_the_end(self):
        with tempfile.TemporaryDirectory() as output_dir:
            command = [sys.executable, str(SCRIPT), "--output_dir", output_dir, "--max_steps", "20"]
            command += ["--save_strategy", "time", "--save_time", "1h", "--use_cpu", "true", "--report_to", "none"]
            result = subprocess.run(command, capture_output=True, text=True)
            self.assertEqual(result.returncode, 0, result.stderr[-2000:])
            self.assertIn("save_strategy='time' save_time=3600.0", result.stdout)
            # No hour passes in 20 steps: the only checkpoint is the one every "time" run ends with
            self.assertIn("checkpoints in", result.stdout)
            self.assertEqual(sorted(p.name for p in Path(output_dir).glob("checkpoint-*")), ["checkpoint-20"])
