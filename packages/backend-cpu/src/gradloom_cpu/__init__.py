"""gradloom's CPU backend: numpy arrays, the CPU executor and fast numpy kernels."""
