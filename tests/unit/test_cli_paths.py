"""A manifest's files are relative to it and stay inside its repository: no absolute paths, no escape."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from genai_cicd.errors import ManifestInvalid
from genai_cicd_local.cli.main import main
from genai_cicd_local.cli.paths import repository_root, resolve_ref
from tests.utils import ROOT, manifest_file


def test_the_sample_manifests_resolve_inside_the_repository() -> None:
    manifest = ROOT / "examples/support_bot/manifests/good-prompt.yaml"
    assert resolve_ref(manifest, "baseline.prompt", "../prompts/v1.txt").is_relative_to(repository_root(manifest))


@pytest.mark.parametrize(("ref", "says"), [
    ("/etc/passwd", "is absolute"),
    ("../../../../../../etc/passwd", "outside the repository"),
    ("link-out.txt", "outside the repository"),
    ("no-such-file.txt", "not found: looked for"),
])
def test_refs_that_leave_the_release_are_refused(tmp_path: Path, ref: str, says: str) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink(tmp_path / "secret.txt", repo / "link-out.txt")
    manifest = repo / "release.yaml"
    manifest.write_text("app: x\n")
    with pytest.raises(ManifestInvalid, match=re.escape(says)):
        resolve_ref(manifest, "candidate.prompt", ref)


def test_check_exits_2_naming_the_field_of_an_escaping_reference(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = manifest_file(tmp_path, "good-prompt")
    data = yaml.safe_load(path.read_text())
    data["candidate"]["prompt"] = "../../../../../../etc/hostname"
    path.write_text(yaml.safe_dump(data))
    assert main(["check", "--release", str(path)]) == 2
    assert "outside the repository" in capsys.readouterr().out
