"""Train or play an agent: ``python train_isaac.py task=Ant`` (hydra overrides, IsaacGymEnvs style).

See README.md. The same app is installed as the ``skrl-isaac-train`` console script.
"""

from skrl_isaac.cli.train import main

if __name__ == "__main__":
    main()
