"""Allow ``python -m dpbench`` (used by ``torchrun -m dpbench run ...``)."""

from dpbench.cli import main

if __name__ == "__main__":
    main()
