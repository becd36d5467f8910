"""`make pr`: one diff that rebuilds the tested tree from a pristine release, and nothing but upstream paths in it."""

import re
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import upstream_pr  # noqa: E402
from series import PROJECT_ROOT, Project  # noqa: E402


def test_pr_diff_applies_to_the_pristine_release_and_touches_only_upstream_paths(tmp_path):
    project = Project(PROJECT_ROOT)
    upstream_pr.command_pr(
        project, tmp_path
    )  # raises unless the diff, applied to a pristine tree, gives the tested one

    diff = (tmp_path / upstream_pr.DIFF_NAME).read_text(encoding="utf-8")
    touched = re.findall(r"^diff --git a/(\S+) b/", diff, re.MULTILINE)
    assert touched, "the diff is empty"
    assert all(path.startswith(("src/transformers/", "tests/trainer/", "docs/source/en/")) for path in touched), (
        touched
    )
    assert f'version="{project.version}"' not in diff and project.local_version not in diff  # no build label

    description = (tmp_path / "PR.md").read_text(encoding="utf-8")
    assert "#36310" in description
    for patch in project.patch_files():
        subject = " ".join(
            re.search(r"^Subject: \[PATCH\] (.+(?:\n .+)*)", patch.read_text(encoding="utf-8"), re.MULTILINE)[
                1
            ].split()
        )
        assert subject in description
