"""The archive registry: archive families register here by name."""

from __future__ import annotations

from qd.registry import Registry

archive_registry: Registry[type] = Registry("archive")
register_archive = archive_registry.register
