"""The pipeline: one module per DVC stage, each reading its params section, calling the scratchnet
library and writing its outputs. dvc.yaml runs each as `python -m stages.NAME` from the checkout."""
