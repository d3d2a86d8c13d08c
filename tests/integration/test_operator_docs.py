"""docs/operators.md lists every operator core registers, under its own name."""
import os
import re

from gradloom.ops import all_ops

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "operators.md")


def test_every_registered_operator_and_alias_is_listed():
    with open(DOC) as f:
        listed = set(re.findall(r"`([^`]+)`", f.read()))
    missing = sorted(name for op in all_ops() for name in (op.name, *op.aliases)
                     if name not in listed)
    assert not missing, f"add these to docs/operators.md: {missing}"
