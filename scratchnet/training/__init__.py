"""Training: the presets, the recipe, and the loop that fits a model."""
