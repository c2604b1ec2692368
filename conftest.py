"""Root pytest configuration: optional dependencies.

PyTorch is an optional extra; without it the doctests of ``wsprox/torch.py``
cannot be collected, so they are left out (``tests/test_torch.py`` skips itself).
"""
import importlib.util

collect_ignore = [] if importlib.util.find_spec("torch") else ["wsprox/torch.py"]
