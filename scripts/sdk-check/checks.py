"""What every SDK check script shares: running one check, asserting in it, the last line.

A check is a function that raises on failure and may return a detail to print. Each runs
whatever happened before it, so one run reports every failure, not only the first.
"""

import os
import traceback

FAILURES = []
CHECKS = [0]


def check(name, fn):
    CHECKS[0] += 1
    try:
        detail = fn()
        print(f"ok    {name}" + (f": {detail}" if detail else ""))
    except Exception as exc:  # noqa: BLE001 - every failure is reported, then counted
        FAILURES.append(name)
        print(f"FAIL  {name}: {type(exc).__name__}: {exc}")
        if os.environ.get("SDK_CHECK_VERBOSE"):
            traceback.print_exc()


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


def summary():
    """Prints the last line, "N passed, M failed", and returns the exit status."""
    print(f"{CHECKS[0] - len(FAILURES)} passed, {len(FAILURES)} failed")
    return 1 if FAILURES else 0
