"""Regenerate the compiler's golden files in tests/data/ (review the diff before committing).

Usage: python scripts/update_golden.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coach.plan import compiler  # noqa: E402
from coach.routine import loader, phrasebooks  # noqa: E402


def golden(path: Path) -> dict[str, object]:
    routine = loader.load(path)
    timeline = compiler.compile_routine(routine, phrasebooks.effective(routine))
    return {
        "duration_ms": timeline.duration_ms,
        "segments": timeline.segments_json(),
        "requests": [
            {"at_ms": r.at_ms, "window": [r.window_start_ms, r.window_end_ms], "kind": r.kind, "text": r.text,
             "priority": r.priority.name, "fixed": r.fixed}
            for r in timeline.requests
        ],
    }


def main() -> None:
    for path in sorted((ROOT / "tests" / "data").glob("compiler_*.yaml")):
        out = path.with_suffix(".json")
        out.write_text(json.dumps(golden(path), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
