"""Prints the per-case max abs logits error table collected by test_reference.py."""
import sys


def pytest_terminal_summary(terminalreporter):
    errors = {}
    for mod in list(sys.modules.values()):
        errs = getattr(mod, "REFERENCE_ERRORS", None)
        if isinstance(errs, dict):
            errors.update(errs)
    if not errors:
        return
    tr = terminalreporter
    tr.section("GLM reference: max |logits - official ref_fp32| at <sop>")
    for (kind, name), err in sorted(errors.items()):
        tr.write_line(f"{kind:14s} {name:18s} {err:.3e}")
