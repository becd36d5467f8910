"""The demo's subtitles say how far apart the logs are in each phase, from the gaps between logs inside it."""

import importlib.util
import unittest
from pathlib import Path


DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo_time_strategies.py"


def load_demo():
    spec = importlib.util.spec_from_file_location("demo_time_strategies", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class LogSpacingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.log_spacing = staticmethod(load_demo().log_spacing)

    def test_each_phase_is_measured_by_the_gaps_between_its_own_logs(self):
        # A log every 1 s until the slowdown at 2.5 s, then every 3 s: the gap across the slowdown belongs to neither
        times = [1.0, 2.0, 5.0, 8.0, 11.0]
        self.assertEqual(self.log_spacing(times, 2.5, 12.0), "a log every 1.0 s, then every 3.0 s")

    def test_a_phase_with_a_single_log_has_no_gap_and_says_how_many_logs_it_had(self):
        # The step-based run of a slow machine: one log in the 9 s of the slow phase is no "every 0.0 s"
        times = [0.9, 1.8, 2.7, 3.6, 4.5, 5.4, 10.0]
        self.assertEqual(self.log_spacing(times, 6.0, 15.0), "a log every 0.9 s, then a single log in 9.0 s")

    def test_a_phase_without_logs_says_so(self):
        self.assertEqual(self.log_spacing([0.9, 1.8, 2.7], 6.0, 15.0), "a log every 0.9 s, then no log in 9.0 s")


if __name__ == "__main__":
    unittest.main()
