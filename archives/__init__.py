"""Archive families over pyribs, registered by name: grid, cvt, sliding_boundaries, proximity."""

from archives import cvt, grid, proximity, sliding_boundaries  # noqa: F401  (registration)
from archives.base import ArchiveConfig, ArchiveFamily, ArchiveGeometry, QDArchive
from archives.registry import archive_registry, register_archive

__all__ = [
    "ArchiveConfig",
    "ArchiveFamily",
    "ArchiveGeometry",
    "QDArchive",
    "archive_registry",
    "register_archive",
]
