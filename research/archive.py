"""A zip archive written entry by entry, each entry streamed and checksummed (SHA-256)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

ZIP_ENTRY_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can carry


class HashingWriter(io.RawIOBase):
    """Passes bytes to a zip entry, counting them and hashing them (SHA-256) on the way."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.digest.update(chunk)
        self.size += len(chunk)
        self.target.write(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.size


@dataclass
class Entry:
    """One file of the archive: its name, rows (for tables) and checksum."""

    file: str
    rows: int
    sha256: str


@dataclass
class Archive:
    """A zip being written entry by entry; remembers what went in."""

    zip: zipfile.ZipFile
    entries: list[Entry] = field(default_factory=list)

    def write_stream(self, name: str, write: Callable[[HashingWriter], int]) -> Entry:
        # A fixed timestamp on every entry: a zip's entry times would date the export.
        info = zipfile.ZipInfo(name, date_time=ZIP_ENTRY_TIME)
        info.compress_type = self.zip.compression
        with self.zip.open(info, "w", force_zip64=True) as target:
            hashing = HashingWriter(target)
            rows = write(hashing)
        entry = Entry(name, rows, hashing.digest.hexdigest())
        self.entries.append(entry)
        return entry

    def write_text(self, name: str, text: str) -> Entry:
        def write(out: HashingWriter) -> int:
            out.write(text.encode())
            return 0

        return self.write_stream(name, write)
