"""Local file references of a manifest: relative to the manifest, confined to its repository.

``check``, ``bundle``, ``release`` and ``demo`` read the files a manifest names
from disk. A reference is a path relative to the manifest file; it may not be
absolute and, once ``..`` and symbolic links are resolved, must stay inside the
repository that holds the manifest (the nearest directory with a ``.git`` entry;
outside a Git checkout, the working directory when the manifest is under it, else
the manifest's own directory). So a manifest cannot make the build upload
``/etc/passwd`` or a sibling checkout's secrets as a "prompt".
"""

from __future__ import annotations

from pathlib import Path

from genai_cicd.errors import ManifestInvalid


def repository_root(manifest: Path) -> Path:
    start = manifest.resolve().parent
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    cwd = Path.cwd().resolve()
    return cwd if start.is_relative_to(cwd) else start


def resolve_ref(manifest: Path, field: str, ref: str) -> Path:
    """The file ``ref`` names, or ManifestInvalid naming the manifest and the field."""
    if Path(ref).is_absolute():
        raise ManifestInvalid(f"{manifest}: {field}: {ref} is absolute; paths are relative to the manifest's "
                              "directory")
    root = repository_root(manifest)
    local = (manifest.resolve().parent / ref).resolve()
    if not local.is_relative_to(root):
        raise ManifestInvalid(f"{manifest}: {field}: {ref} resolves to {local}, outside the repository {root} "
                              "(paths are relative to the manifest and may not leave its repository, through .. or a "
                              "link; a manifest copied elsewhere needs its files beside it, or s3:// references)")
    if not local.is_file():
        raise ManifestInvalid(f"{manifest}: {field}: file {ref} not found: looked for {local} (paths are relative to "
                              f"the manifest's directory, {manifest.resolve().parent}, not to the current directory)")
    return local
