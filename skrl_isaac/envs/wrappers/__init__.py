"""skrl 1.x's ``skrl.envs.wrappers`` path (the framework-specific code is in ``torch``)."""
