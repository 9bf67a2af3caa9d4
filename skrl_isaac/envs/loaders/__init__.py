"""skrl 1.x's ``skrl.envs.loaders`` path (the framework-specific code is in ``torch``)."""
