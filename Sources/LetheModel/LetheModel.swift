// LetheModel: Mamba configuration, checkpoint loading (safetensors, PyTorch zip), forward pass and recurrent step.
