"""Readers (and, for tests and the sample suite, writers) of the datasets' on-disk formats.

Pure numpy / OpenCV / Pillow / h5py: nothing in this package imports torch.
"""
