"""The package's bytes and identity: checksum, unique identifier, size limit and a deterministic zip.

Confirmed in dify-plugin-daemon (read at bdb5642a) pkg/plugin_packager/decoder/checksum.go
(CalculateChecksum): it walks the files that get packaged (fs.go Walk honours the ignore file; zip.go Walk
lists every zip entry), keys them by path.Join(dir, name), i.e. '/'-separated relative paths, sorts the keys
with slices.Sort (byte order), and hashes the concatenation of raw 32-byte digests sha256(path) ||
sha256(content) per key; the checksum is hex(sha256(that)). decoder/helper.go UniqueIdentity builds
"<author>/<name>:<version>@<checksum>" (parser.MarshalPluginID; plugin_entities/identity.go checks it).
"""

import hashlib
import os
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from .go_ignore import go_sort_key

# CLI `--max-size` default (50 * 1024 * 1024, cmd/commandline/plugin.go) and the daemon's upload limit
# MAX_PLUGIN_PACKAGE_SIZE (52428800, internal/types/app/default.go): cumulative uncompressed bytes.
MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
# Zip timestamps are fixed so two builds of the same tree are byte-identical (DOS dates start in 1980).
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
REGULAR_FILE_MODE = 0o100644


def compute_checksum(plugin_dir: Path, files: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for path in sorted(set(files), key=go_sort_key):
        digest.update(hashlib.sha256(path.encode("utf-8", "surrogateescape")).digest())
        digest.update(hashlib.sha256((plugin_dir / path).read_bytes()).digest())
    return digest.hexdigest()


def unique_identifier(author: str, name: str, version: str, checksum: str) -> str:
    return f"{author}/{name}:{version}@{checksum}"


def size_problem(plugin_dir: Path, files: Sequence[str], max_bytes: int = MAX_UNCOMPRESSED_BYTES) -> str | None:
    """The packager.go error for packages over the limit: it lists the five biggest files."""
    sizes = {path: (plugin_dir / path).stat().st_size for path in files}
    total = sum(sizes.values())
    if total <= max_bytes:
        return None
    biggest = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:5]
    listing = "\n".join(f"  {rank}. {path}: {size} bytes" for rank, (path, size) in enumerate(biggest, 1))
    return (
        f"package too large: {total} bytes uncompressed, the limit is {max_bytes} bytes; "
        f"exclude files in .difyignore. Biggest files:\n{listing}"
    )


def write_zip(plugin_dir: Path, files: Sequence[str], output: Path) -> None:
    """Deflate, sorted '/' paths, no directory entries, no comment, fixed time and mode: reproducible bytes.

    Written to a temporary file first so a failed build never leaves a truncated package behind.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(output.name + ".partial")
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(files, key=go_sort_key):
                info = zipfile.ZipInfo(path, date_time=ZIP_TIMESTAMP)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = 3  # Unix, so the mode below means the same on every build machine
                info.external_attr = REGULAR_FILE_MODE << 16
                archive.writestr(info, (plugin_dir / path).read_bytes())
        os.replace(temporary, output)
    finally:
        temporary.unlink(missing_ok=True)
