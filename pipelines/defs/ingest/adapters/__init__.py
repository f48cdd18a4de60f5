"""Format adapters: each turns one vendor export into canonical rows (see `base.py`)."""
