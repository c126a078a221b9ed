// LetheModel: Mamba-1 as transformers' MambaForCausalLM, Falcon-Mamba as FalconMambaForCausalLM and Mamba-2 as
// Mamba2ForCausalLM, on CPUs (one model type: MambaConfig says which block; Forward.swift's layerForward runs it).
//
//   MambaConfig, ParameterLayout, MambaModel   the config, one flat parameter buffer with an offset table
//   Checkpoint/                                safetensors and pytorch_model.bin loading; RunFolder (final/, step-N/)
//   Forward.swift, MambaActivations            the one forward pass (encoding, decoding, training) and its
//                                              activation layout; recomputeLayer for a backward pass; a Mamba-2
//                                              block in mamba2LayerForward (its scan: Kernels/SSDScan.swift)
//   MambaCache, ChunkEncoder                   conv and ssm states; a chunk's final cache (encoding)
//   GreedyDecoder                              batched greedy reconstruction from encoder states
//   Kernels/                                   each kernel as a free function on flat buffers, its backward beside
//                                              it, the PyTorch line it implements, a naive reference; vectorPath
//                                              picks the C kernels (CLetheKernels) the CPU runs
//   LetheThreads, BLASCore                     worker threads; OpenBLAS on the CPU's own kernels
