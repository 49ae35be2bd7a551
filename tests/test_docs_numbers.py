"""Figures in the README and the docs come from generated sources, so each appears once and current."""

from __future__ import annotations

import json

from bench import tables


def test_the_models_tables_are_what_bench_models_json_says():
    for path, body in tables.tables().items():
        assert tables.section(path) == body, f"{path.name}: stale models table; run `python -m bench.tables --write`"


def test_each_preset_is_measured_and_described():
    from scratchnet.training.presets import PRESETS

    results = json.loads(tables.RESULTS.read_text())
    assert set(results["presets"]) == set(PRESETS) == set(tables.SHORT) == set(tables.LONG)
    for r in results["presets"].values():
        assert r["accuracy_min"] <= r["accuracy_mean"] <= r["accuracy_max"] and set(r["first_at"]) == set(tables.LEVELS)
