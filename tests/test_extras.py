"""The optional dependencies: ``import wsprox`` needs none, and a missing one says how to install it."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from wsprox._extras import EXTRAS

ROOT = Path(__file__).resolve().parent.parent
OPTIONAL = ("torch", "torch.distributed", "jax", "jaxopt", "numba.cuda", "numba_cuda", "cvxpy", "sklearn", "dask")

# Each integration, imported (or called) in a process where its dependency cannot be imported.
MISSING = {
    "torch": "import wsprox.torch",
    "jax": "import wsprox.jax",
    "dask": "import wsprox.dask",
    "sklearn": "import wsprox.linear_model",
    "numba_cuda": "import wsprox; wsprox.prox([1.0, 2.0], 1.0, backend='cuda')",
    "cvxpy": "import wsprox.reference; wsprox.reference.prox_cvxpy([0.0, 1.0], 0.5)",
}
EXTRA_OF = {"torch": "torch", "jax": "jax", "dask": "dask", "sklearn": "sklearn", "numba_cuda": "cuda",
            "cvxpy": "reference"}


def run(code):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False,
                          timeout=300)


def test_import_wsprox_and_a_cpu_prox_import_no_optional_dependency():
    proc = run("import sys, json, wsprox; wsprox.prox([1.0, 2.0], 1.0); "
               f"print(json.dumps([m for m in {OPTIONAL!r} if m in sys.modules]))")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_every_missing_dependency_names_its_extra_and_the_command():
    # One process per integration, the dependency blocked as if not installed.
    for module, code in MISSING.items():
        proc = run(f"import sys; sys.modules[{module!r}] = None\n{code}")
        extra = EXTRA_OF[module]
        assert extra in EXTRAS
        assert "ModuleNotFoundError" in proc.stderr, proc.stderr[-2000:]
        assert f'install the "{extra}" extra: pip install -e ".[{extra}]"' in proc.stderr, proc.stderr[-2000:]


def test_a_broken_dependency_is_not_reported_as_missing(monkeypatch):
    from wsprox._extras import require

    monkeypatch.setitem(sys.modules, "json.decoder", None)      # json is there; a part of it is not
    monkeypatch.delitem(sys.modules, "json", raising=False)
    with pytest.raises(ModuleNotFoundError) as info:
        require("json", extra="test", feature="this test")
    assert "extra" not in str(info.value)


def test_every_extra_is_known_and_listed_on_the_getting_started_page():
    tomllib = pytest.importorskip("tomllib")

    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    assert declared == set(EXTRAS)
    page = (ROOT / "docs" / "getting_started.rst").read_text()
    assert [e for e in declared if f'pip install -e ".[{e}]"' not in page] == []
