"""Admin config: the YAML files under ``config/``, their models, validation and loading
(queue.yaml and agents.yaml too: :mod:`ivr.config.queue_models`).

The ground floor with :mod:`ivr.errors` and :mod:`ivr.settings`. Must not import: any other
part of ``ivr`` (the engine, the servers, the tickets ...), nor ``queueing`` (whose option
interfaces its models satisfy without naming them).
"""
