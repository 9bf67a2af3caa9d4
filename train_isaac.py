"""Train or play an agent: ``python train_isaac.py task=Ant`` (hydra overrides, IsaacGymEnvs style).

See README.md. The same app is installed as the ``skrl-isaac-train`` console script.
"""

import sys

if __name__ == "__main__":
    try:
        from skrl_isaac.cli.train import main
    except KeyboardInterrupt:  # Ctrl-C while Python imports the CLI
        sys.exit(130)
    main()
