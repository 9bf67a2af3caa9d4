"""skrl 1.x's ``skrl.utils.model_instantiators`` path (the framework-specific code is in ``torch``)."""
