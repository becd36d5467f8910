"""TRL's SFTConfig, a TrainingArguments subclass (transformers issue #36310), gets the time strategies by inheritance."""

import unittest

from parameterized import parameterized
from trl import SFTConfig

from transformers import HfArgumentParser
from transformers.trainer_utils import IntervalStrategy, SaveStrategy


CPU_ONLY = {"bf16": False, "use_cpu": True, "report_to": []}


class SFTConfigTimeStrategyTest(unittest.TestCase):
    def test_sft_config_turns_duration_strings_into_seconds(self):
        config = SFTConfig(
            output_dir="out",
            eval_strategy="time",
            eval_time="15m",
            save_strategy="time",
            save_time="1h30m",
            logging_strategy="time",
            logging_time="00:00:30",
            **CPU_ONLY,
        )
        self.assertEqual((config.eval_strategy, config.save_strategy), (IntervalStrategy.TIME, SaveStrategy.TIME))
        self.assertEqual((config.eval_time, config.save_time, config.logging_time), (900.0, 5400.0, 30.0))
        self.assertEqual(config.to_dict()["save_time"], 5400.0)

    def test_sft_config_parses_time_strategies_from_the_command_line(self):
        (config,) = HfArgumentParser(SFTConfig).parse_args_into_dataclasses(
            ["--output_dir", "out", "--bf16", "false", "--use_cpu", "true"]
            + ["--eval_strategy", "time", "--eval_time", "10m", "--save_strategy", "time", "--save_time", "2h"]
        )
        self.assertEqual((config.eval_time, config.save_time), (600.0, 7200.0))

    @parameterized.expand(
        [
            ("zero", "0s", "must be positive"),
            ("unparsable", "soon", "is not a duration"),
            ("negative", -30, "must be positive"),
        ]
    )
    def test_sft_config_refuses_a_bad_save_time_naming_the_field(self, _, value, problem):
        with self.assertRaisesRegex(ValueError, f"`save_time` {problem}"):
            SFTConfig(output_dir="out", save_strategy="time", save_time=value, **CPU_ONLY)
