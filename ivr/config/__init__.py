"""Admin config: the YAML files under ``config/``, their models, validation and loading."""
