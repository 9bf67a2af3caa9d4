"""skrl_isaac: reinforcement learning for Isaac Gym and other batched, GPU-first simulators."""

from setuptools import find_namespace_packages, setup

setup(
    name="skrl_isaac",
    version="0.1.0",
    description="PyTorch reinforcement learning for Isaac Gym and batched simulators, with an embedded MuJoCo task suite",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    # namespace packages too, so the config and asset folders are packages that carry their data files;
    # the embedded task suite (the envs/ folder) is installed as skrl_isaac_envs, a name no other package uses
    packages=find_namespace_packages(include=["skrl_isaac", "skrl_isaac.*"], exclude=["*.__pycache__"])
    + ["skrl_isaac_envs." + p if p else "skrl_isaac_envs"
       for p in [""] + find_namespace_packages(where="envs", exclude=["*.__pycache__"])],
    package_dir={"skrl_isaac_envs": "envs"},
    package_data={"skrl_isaac": ["cfg/*.yaml", "cfg/*/*.yaml"], "skrl_isaac_envs": ["assets/*.xml", "cfg/task/*.yaml"]},
    include_package_data=True,
    install_requires=[
        "torch>=2.2",
        "numpy>=1.24",
        "gymnasium>=0.29",
        "mujoco>=3.2",
        "hydra-core>=1.3",
        "omegaconf>=2.3",
        "tensorboard>=2.14",
        "tqdm>=4.60",
        "pandas>=2.0",
        "matplotlib>=3.7",
    ],
    extras_require={
        "dev": ["pytest>=7", "hypothesis>=6.80", "psutil>=5.9", "rl-games>=1.6.5", "psutil<6", "onnx>=1.15",
                "onnxruntime>=1.16", "polars>=1.0", "imageio>=2.30", "imageio-ffmpeg>=0.5", "wandb>=0.17",
                "mlflow-skinny>=2.10", "mujoco-warp==4.0.0", "warp-lang==1.19.0"],
        # MuJoCo Warp physics (physics_engine=mujoco_warp): a pair tested with mujoco 4.0.x
        "warp": ["mujoco-warp==4.0.0", "warp-lang==1.19.0"],
        "fast-csv": ["polars>=1.0"],  # CSV memory export ~5x faster than the numpy writer, off the GIL
        "bench": ["skrl==2.1.1", "gymnasium[mujoco]==1.4.0", "polars>=1.0"],
        "rl_games": ["rl-games>=1.6.5", "psutil<6"],
        "onnx": ["onnx>=1.15", "onnxruntime>=1.16"],
        "video": ["imageio>=2.30", "imageio-ffmpeg>=0.5"],
        "wandb": ["wandb>=0.17"],
        "mlflow": ["mlflow-skinny>=2.10"],
    },
    entry_points={"console_scripts": ["skrl-isaac-train = skrl_isaac.cli.train:main",
                                      "skrl-isaac = skrl_isaac.cli.main:main"]},
)
