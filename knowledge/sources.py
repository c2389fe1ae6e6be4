"""Where ingestion input comes from: uploaded files, folders, zip archives.

Each source yields (source_key, bytes) members. A zip is read defensively:
no member may escape the archive's root, nothing is trusted from its header
sizes (reads are capped), and a member that inflates more than
INGEST_MAX_ZIP_RATIO times is refused as a zip bomb. A refused member
becomes a failed job with its reason; the rest of the batch goes on.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.conf import settings


@dataclass(frozen=True)
class SourceFile:
    source_key: str
    data: bytes | None
    error: str = ""


def is_zip(name: str) -> bool:
    return name.lower().endswith(".zip")


def clean_key(name: str) -> str | None:
    """A relative POSIX path without '..', or None when the name escapes."""
    name = name.replace("\\", "/")
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith("/") or any(part == ".." for part in path.parts):
        return None
    parts = [p for p in path.parts if p not in ("", ".")]
    return "/".join(parts) or None


def too_large(size: int) -> str:
    limit = settings.INGEST_MAX_FILE_BYTES
    return f"the file is {size:,} bytes, over the {limit:,}-byte limit (INGEST_MAX_FILE_BYTES)" if size > limit else ""


def read_zip(data_or_path: bytes | Path, *, prefix: str = "") -> Iterator[SourceFile]:
    import io

    handle = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else open(data_or_path, "rb")  # noqa: SIM115
    try:
        try:
            archive = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError) as exc:
            yield SourceFile(prefix or "archive.zip", None, f"the zip archive could not be opened: {exc}")
            return
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > settings.INGEST_MAX_ZIP_MEMBERS:
            yield SourceFile(
                prefix or "archive.zip",
                None,
                f"the archive holds {len(members)} files, over the limit of {settings.INGEST_MAX_ZIP_MEMBERS}",
            )
            return
        total = 0
        for member in members:
            key = clean_key(member.filename)
            shown = f"{prefix}{member.filename}"
            if key is None:
                yield SourceFile(shown, None, "the path escapes the archive (absolute or '..'); refused")
                continue
            key = f"{prefix}{key}"
            if PurePosixPath(key).name.startswith(".") or "__MACOSX/" in key:
                continue  # editor and OS litter, not documents
            if member.flag_bits & 0x1:
                yield SourceFile(key, None, "the member is encrypted; upload an unprotected archive")
                continue
            if is_zip(key):
                yield SourceFile(key, None, "archives inside archives are not expanded; upload it on its own")
                continue
            limit = settings.INGEST_MAX_FILE_BYTES
            if member.file_size > limit:
                yield SourceFile(key, None, too_large(member.file_size))
                continue
            ratio_cap = settings.INGEST_MAX_ZIP_RATIO
            try:
                with archive.open(member) as stream:
                    data = stream.read(limit + 1)
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as exc:
                yield SourceFile(key, None, f"the member could not be read from the archive: {exc}")
                continue
            if len(data) > limit:
                yield SourceFile(key, None, too_large(len(data)) + " (the header lied about its size)")
                continue
            if member.compress_size and len(data) > 1024 * 1024 and len(data) / member.compress_size > ratio_cap:
                yield SourceFile(key, None, f"the member inflates over {ratio_cap}x: refused as a possible zip bomb")
                continue
            total += len(data)
            if total > settings.INGEST_MAX_ZIP_TOTAL_BYTES:
                yield SourceFile(
                    key, None, "the archive expands beyond INGEST_MAX_ZIP_TOTAL_BYTES; the rest is refused"
                )
                return
            yield SourceFile(key, data)
    finally:
        handle.close()


def read_path(path: Path) -> Iterator[SourceFile]:
    """A file, a zip or a folder given on the command line."""
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            rel = child.relative_to(path).as_posix()
            if any(part.startswith(".") for part in PurePosixPath(rel).parts):
                continue
            yield from _read_file(child, rel)
    elif path.is_file():
        yield from _read_file(path, path.name)
    else:
        yield SourceFile(str(path), None, "no such file or folder")


def _read_file(path: Path, key: str) -> Iterator[SourceFile]:
    if is_zip(key):
        yield from read_zip(path, prefix="")
        return
    size = path.stat().st_size
    if too_large(size):
        yield SourceFile(key, None, too_large(size))
        return
    yield SourceFile(key, path.read_bytes())
