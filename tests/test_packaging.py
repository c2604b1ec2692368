"""Packaging: the version written once, the licence, what the wheel and the sdist hold, light imports."""
import importlib.metadata
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import wsprox

ROOT = Path(__file__).resolve().parent.parent


def pyproject():
    tomllib = pytest.importorskip("tomllib")   # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_version_is_written_once_and_is_the_metadata():
    project = pyproject()["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert pyproject()["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "wsprox.__version__"}
    assert importlib.metadata.version("wsprox") == wsprox.__version__


def test_licence_is_a_file_and_an_spdx_expression():
    project = pyproject()["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "wsprox developers" in text
    assert importlib.metadata.metadata("wsprox")["License-Expression"] == "MIT"


def test_extras_are_named_for_what_they_enable():
    extras = pyproject()["project"]["optional-dependencies"]
    assert {"reference", "torch", "jax", "cuda", "sklearn", "dask", "figures", "test", "docs", "dev"} <= set(extras)
    assert {req.split(">")[0].split("=")[0] for req in extras["reference"]} == {"cvxpy", "scs"}
    assert {req.split(">")[0] for req in extras["jax"]} == {"jax", "jaxlib", "jaxopt"}
    assert any("jax" in req for req in extras["test"])   # the JAX tests run in CI


def test_typed_and_no_test_files_inside_the_package():
    assert (ROOT / "wsprox" / "py.typed").is_file()
    assert "py.typed" in pyproject()["tool"]["setuptools"]["package-data"]["wsprox"]
    strays = [p for p in (ROOT / "wsprox").rglob("*.py") if p.name == "conftest.py" or p.name.startswith("test_")]
    assert not strays


def test_wheel_and_sdist_hold_what_they_should(tmp_path):
    pytest.importorskip("build")
    # Built from a copy of the tracked files: setuptools writes wsprox.egg-info into the tree it builds.
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False).stdout
    if not tracked:
        pytest.skip("not a git checkout")
    for name in tracked.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    proc = subprocess.run([sys.executable, "-m", "build", "--outdir", str(tmp_path), str(source)],
                          capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    version = wsprox.__version__
    with zipfile.ZipFile(tmp_path / f"wsprox-{version}-py3-none-any.whl") as wheel:
        names = wheel.namelist()
        metadata = wheel.read(f"wsprox-{version}.dist-info/METADATA").decode()
    top = {name.split("/")[0] for name in names}
    assert top == {"wsprox", f"wsprox-{version}.dist-info"}            # no paper_figures
    assert "wsprox/py.typed" in names and f"wsprox-{version}.dist-info/licenses/LICENSE" in names
    assert not [n for n in names if Path(n).name == "conftest.py" or Path(n).name.startswith("test_")]
    assert "License-Expression: MIT" in metadata and f"Version: {version}" in metadata
    with tarfile.open(tmp_path / f"wsprox-{version}.tar.gz") as sdist:
        files = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    # what the tests need: python -m pytest runs from an unpacked sdist
    assert {"LICENSE", "conftest.py", "tests/conftest.py", "tests/test_front_door.py", "docs/api.rst",
            "docs/user_guide.rst", "paper_figures/__main__.py", "wsprox/py.typed"} <= files
    assert not [f for f in files if "__pycache__" in f or f.endswith((".pyc", ".nbi", ".nbc"))]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if line.startswith('pip install -e ".[test]"'))
    assert command in (ROOT / ".ci" / "run").read_text()
