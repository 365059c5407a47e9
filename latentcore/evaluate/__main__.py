"""``python -m latentcore.evaluate --model digits-vae --out DIR``: see :mod:`latentcore.evaluate.cli`."""

from .cli import main

if __name__ == "__main__":
    main()
