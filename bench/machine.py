"""One line naming where and when a benchmark ran (printed at the top of every output)."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime


def describe() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"_Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.system()} {platform.machine()}, "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average {load:.1f} at start._")
