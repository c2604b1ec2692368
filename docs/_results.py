"""Turn the committed result files in ``docs/results/`` into page fragments.

The Benchmarks and Paper figures pages include ``_generated/*.inc``, written
here at the start of every build, so that a page never points at a missing
file (a warning, hence an error under ``-W``):

``results/hardware.txt``
    The machine the numbers come from (CPU, cores, GPU, library versions).
``results/bench.txt``, ``results/bench_cuda.txt``
    The tables printed by ``python -m wsprox.bench`` and
    ``python -m wsprox.bench --backend cuda``.
``results/figures/NAME.png`` (and optional ``NAME.txt``, its caption)
    Figures of ``python -m paper_figures``, in file-name order.
``results/tables/NAME.csv``
    Tables of ``python -m paper_figures`` (first row: the header).
"""
from pathlib import Path

_MISSING = """\
.. note::

   {what} not measured for this version: {how}
"""


def _literal(path, what, how):
    if path.is_file():
        return f".. literalinclude:: /results/{path.name}\n   :language: text\n"
    return _MISSING.format(what=what, how=how)


def _benchmarks(results):
    parts = [
        "Hardware\n~~~~~~~~\n\n",
        _literal(results / "hardware.txt", "The hardware description is",
                 "write it to ``docs/results/hardware.txt``."),
        "\nCPU\n~~~\n\n",
        _literal(results / "bench.txt", "The CPU table is",
                 "run ``python -m wsprox.bench > docs/results/bench.txt``."),
        "\nCUDA\n~~~~\n\n",
        _literal(results / "bench_cuda.txt", "The CUDA table is",
                 "on a machine with a GPU, run "
                 "``python -m wsprox.bench --backend cuda > docs/results/bench_cuda.txt``."),
    ]
    return "".join(parts)


def _figures(results):
    figures = sorted((results / "figures").glob("*.png"))
    tables = sorted((results / "tables").glob("*.csv"))
    if not figures and not tables:
        return _MISSING.format(
            what="The figures are",
            how="run ``python -m paper_figures`` and copy the PNG files of "
                "``paper_figures/out/`` to ``docs/results/figures/`` and the tables "
                "to ``docs/results/tables/``.")
    parts = []
    for png in figures:
        caption_file = png.with_suffix(".txt")
        caption = caption_file.read_text().strip() if caption_file.is_file() else png.stem
        caption = "\n   ".join(caption.splitlines())
        parts.append(f".. figure:: /results/figures/{png.name}\n\n   {caption}\n\n")
    for csv in tables:
        # Inline rows: a :file: option would resolve against _generated/, not docs/.
        title = csv.stem.replace("_", " ").capitalize()
        rows = "".join(f"   {line}\n" for line in csv.read_text().splitlines() if line.strip())
        parts.append(f".. csv-table:: {title}\n   :header-rows: 1\n   :class: wsprox-results\n\n{rows}\n")
    return "".join(parts)


def write_result_includes(docs):
    """Write ``_generated/benchmarks.inc`` and ``_generated/paper_figures.inc``."""
    docs = Path(docs)
    results = docs / "results"
    generated = docs / "_generated"
    generated.mkdir(exist_ok=True)
    for name, text in (("benchmarks.inc", _benchmarks(results)),
                       ("paper_figures.inc", _figures(results))):
        target = generated / name
        if not target.is_file() or target.read_text() != text:
            target.write_text(text)
