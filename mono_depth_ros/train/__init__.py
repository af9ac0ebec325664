"""Training, fine-tuning and distillation: losses, datasets and the loop (``mono-depth train``)."""
