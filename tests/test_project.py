"""The project's own promises: one source of dependencies, two-command README, clean notebooks."""

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_agrees_with_pyproject():
    text = (ROOT / "environment.yml").read_text()
    project = _pyproject()["project"]
    py = re.search(r"python=(\d+\.\d+)", text).group(1)
    assert project["requires-python"] == f">={py}"
    extras = re.search(r"-e \.\[([a-z,]+)\]", text).group(1).split(",")
    assert sorted(extras) == sorted(project["optional-dependencies"])
    # environment.yml holds only python, pip and the editable install: no second dependency list.
    after = text.split("dependencies:", 1)[1]
    deps = [line.strip() for line in after.splitlines() if line.strip().startswith("- ")]
    assert deps == ["- python=" + py, "- pip", "- pip:", f"- -e .[{','.join(extras)}]"]


def test_makefile_installs_every_extra():
    make = (ROOT / "Makefile").read_text()
    extras = re.search(r"EXTRAS := ([a-z,]+)", make).group(1).split(",")
    assert sorted(extras) == sorted(_pyproject()["project"]["optional-dependencies"])


def test_required_runtime_packages_declared():
    deps = " ".join(_pyproject()["project"]["dependencies"])
    for name in [
        "polars",
        "plotly",
        "statsmodels",
        "lifelines",
        "ipywidgets",
        "papermill",
        "nbconvert",
        "jupyterlab",
        "pyarrow",
        "pandas",
    ]:
        assert re.search(rf"\b{name}\b", deps), name
    assert "pandas>=2.0,<3" in deps
    dev = " ".join(_pyproject()["project"]["optional-dependencies"]["dev"])
    for name in ["pytest", "nbval", "hypothesis", "ruff", "jupytext", "nbstripout"]:
        assert name in dev, name


def test_readme_opens_with_the_two_commands():
    lines = [ln for ln in (ROOT / "README.md").read_text().splitlines() if ln.strip()]
    assert lines[1].startswith("```")
    block = lines[2:4]
    assert block[0].startswith("make report") and block[1].startswith("make test")
    assert lines[4] == "```"


def test_notebooks_stored_without_outputs_and_paired():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(
        (ROOT / "workbench" / "reports").glob("*.ipynb")
    )
    for path in notebooks:
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path
        assert nb["metadata"]["kernelspec"]["name"] == "python3", path
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        twin = path.with_suffix(".py")
        assert twin.exists(), f"{path.name} has no py:percent twin"
        assert "format_name: percent" in twin.read_text()


def test_ci_script_runs_make_test():
    run = (ROOT / ".ci" / "run").read_text()
    assert "make test" in run and "chromium" in run and "postgresql" in run
