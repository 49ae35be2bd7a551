"""params.yaml, one section per stage: declarations (one module per section), reading and validation."""
