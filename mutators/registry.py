"""The emitter registry: numeric variation operators register here by name."""

from __future__ import annotations

from qd.registry import Registry

emitter_registry: Registry[type] = Registry("emitter")
register_emitter = emitter_registry.register
