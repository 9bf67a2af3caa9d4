"""Default configs of the embedded tasks (``task/<Task>.yaml``), also the CLI's hydra ``task`` group."""
