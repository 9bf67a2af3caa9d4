"""Command-line entry points (``train_isaac.py`` / ``skrl-isaac-train``)."""
