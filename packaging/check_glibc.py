"""The oldest glibc a frozen bundle runs on, read from its ELF files; fails above a maximum.

    .venv/bin/python packaging/check_glibc.py dist/SleepScope            # default maximum
    .venv/bin/python packaging/check_glibc.py dist/SleepScope --max 2.28

The baseline is the highest GLIBC_x.y symbol version any bundled ELF file requires (its
.gnu.version_r section, what `objdump -T` shows). The system libraries the bundle needs but
does not carry are listed too: the target must provide them. Exit status 1 above the maximum.
"""

from __future__ import annotations

import argparse
import os
import re
import struct
import sys
from dataclasses import dataclass, field

# Ubuntu 22.04 has glibc 2.35, the oldest this bundle promises (RHEL 9 has 2.34: see README.md).
DEFAULT_MAX_GLIBC = "2.35"

SHT_DYNAMIC = 6
SHT_GNU_VERNEED = 0x6FFFFFFE
DT_NEEDED = 1
ELF_MAGIC = b"\x7fELF"
_VERSION_RE = re.compile(r"^(GLIBC|GLIBCXX|CXXABI)_(\d+(?:\.\d+)*)$")


@dataclass
class ElfNeeds:
    """What one ELF file asks of the dynamic loader."""

    needed: list[str] = field(default_factory=list)  # DT_NEEDED sonames
    versions: set[tuple[str, str]] = field(default_factory=set)  # (library, version name)


def parse_version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _cstr(blob: bytes, offset: int) -> str:
    end = blob.index(b"\0", offset)
    return blob[offset:end].decode("ascii", "replace")


def read_elf_needs(path: str) -> ElfNeeds | None:
    """DT_NEEDED entries and required symbol versions of an ELF file; None if it is not one."""
    with open(path, "rb") as handle:
        if handle.read(4) != ELF_MAGIC:
            return None
        handle.seek(0)
        data = handle.read()
    is64 = data[4] == 2
    endian = "<" if data[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(endian + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(endian + "HH", data, 0x3A)
        section_fmt = endian + "IIQQQQIIQQ"
        dyn_fmt = endian + "qQ"
    else:
        shoff, = struct.unpack_from(endian + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(endian + "HH", data, 0x2E)
        section_fmt = endian + "IIIIIIIIII"
        dyn_fmt = endian + "iI"
    sections = []
    for index in range(shnum):
        name, kind, _flags, _addr, offset, size, link, info, _align, _entsize = struct.unpack_from(
            section_fmt, data, shoff + index * shentsize
        )
        sections.append((kind, offset, size, link, info))

    def strtab(link: int) -> bytes:
        _kind, offset, size, _link, _info = sections[link]
        return data[offset:offset + size]

    needs = ElfNeeds()
    for kind, offset, size, link, info in sections:
        if kind == SHT_DYNAMIC:
            names = strtab(link)
            step = struct.calcsize(dyn_fmt)
            for pos in range(offset, offset + size, step):
                tag, value = struct.unpack_from(dyn_fmt, data, pos)
                if tag == 0:
                    break
                if tag == DT_NEEDED:
                    needs.needed.append(_cstr(names, value))
        elif kind == SHT_GNU_VERNEED:
            names = strtab(link)
            pos = offset
            for _ in range(info):
                _version, count, file_name, aux, next_need = struct.unpack_from(endian + "HHIII", data, pos)
                library = _cstr(names, file_name)
                aux_pos = pos + aux
                for _ in range(count):
                    _hash, _flags, _other, name, next_aux = struct.unpack_from(endian + "IHHII", data, aux_pos)
                    needs.versions.add((library, _cstr(names, name)))
                    aux_pos += next_aux
                pos += next_need
    return needs


def scan(root: str) -> dict[str, ElfNeeds]:
    """Every ELF file under root (or root itself), by path."""
    # Inside a folder, links point at files scanned under their own names.
    paths = [os.path.realpath(root)] if os.path.isfile(root) else [
        os.path.join(folder, name) for folder, _dirs, names in os.walk(root) for name in names
    ]
    found = {}
    for path in sorted(paths):
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        needs = read_elf_needs(path)
        if needs is not None:
            found[path] = needs
    return found


def highest(found: dict[str, ElfNeeds], family: str) -> tuple[tuple[int, ...], list[str]] | None:
    """The highest version of a family (GLIBC, GLIBCXX, CXXABI) required, and the files requiring it."""
    best: tuple[int, ...] | None = None
    holders: list[str] = []
    for path, needs in found.items():
        for _library, name in needs.versions:
            match = _VERSION_RE.match(name)
            if not match or match.group(1) != family:
                continue
            version = parse_version(match.group(2))
            if best is None or version > best:
                best, holders = version, [path]
            elif version == best and path not in holders:
                holders.append(path)
    return None if best is None else (best, holders)


def external_libraries(found: dict[str, ElfNeeds]) -> list[str]:
    """Sonames the bundle's files need that the bundle does not carry (the target provides them)."""
    carried = {os.path.basename(path) for path in found}
    return sorted({soname for needs in found.values() for soname in needs.needed} - carried)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", help="bundle folder (e.g. dist/SleepScope) or one ELF file")
    parser.add_argument("--max", default=DEFAULT_MAX_GLIBC, help=f"highest glibc allowed (default {DEFAULT_MAX_GLIBC})")
    args = parser.parse_args(argv)
    if not os.path.exists(args.bundle):
        print(f"error: {args.bundle} does not exist; build the bundle first", file=sys.stderr)
        return 2
    found = scan(args.bundle)
    if not found:
        print(f"error: no ELF file under {args.bundle}", file=sys.stderr)
        return 2
    root = args.bundle if os.path.isdir(args.bundle) else os.path.dirname(args.bundle)
    print(f"{len(found)} ELF files under {args.bundle}")
    for family in ("GLIBCXX", "CXXABI"):
        result = highest(found, family)
        if result:
            version, holders = result
            print(f"{family} needed: {'.'.join(map(str, version))} ({os.path.relpath(holders[0], root)})")
    print("provided by the target system: " + " ".join(external_libraries(found)))
    glibc = highest(found, "GLIBC")
    if glibc is None:
        print("glibc baseline: none (no GLIBC_ symbol versions)")
        return 0
    version, holders = glibc
    baseline = ".".join(map(str, version))
    print(f"glibc baseline: {baseline}")
    for path in holders[:10]:
        print(f"  needs GLIBC_{baseline}: {os.path.relpath(path, root)}")
    if version > parse_version(args.max):
        print(f"FAIL: glibc {baseline} needed, above the maximum {args.max}")
        return 1
    print(f"OK: at most glibc {args.max}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
