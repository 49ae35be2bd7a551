"""Everything the tests share, in one place: data builders (data), throwaway git + DVC repos (repo),
the stage-to-code map (stage_code), the bad-input table (bad_inputs) and gradient cases (gradients).
Test modules import from here and never from one another."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout
