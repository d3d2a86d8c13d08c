"""gradloom's CUDA backend: cupy arrays on NVIDIA GPUs."""
