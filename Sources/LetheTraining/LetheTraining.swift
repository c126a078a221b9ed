// LetheTraining: Backward kernels, AdamW, learning-rate schedules and checkpoints for training a Mamba decoder.
