// LetheTraining: the auto-encoder's (and a language model's) training, by hand-written backpropagation.
//
//   Backprop                 loss and gradients: MambaModel's forward, then each block's backward kernels in reverse
//   AdamW, GradientClipping, Schedule, Initialization   torch.optim.AdamW, clip_grad_norm_, transformers' schedules,
//                            transformers' initialisation
//   Trainer                  one step: loss, backward, clipping, update
//   Batching, EncodedChunks, EncoderChunks   batches of one length from stored states or from a frozen encoder
//   TrainingRun, TrainingCheckpoint          validation, checkpoints (RunFolder), bit-for-bit resume
