"""Serving the model: `scratchnet predict` on files, and the HTTP app with its draw-a-digit page."""
