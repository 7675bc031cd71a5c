"""Shrink the ICU data library that PySide6 ships on Linux to the parts Qt can use (build.spec).

PySide6's Linux wheels carry ICU, and libicudata.so.* is a 32 MB table of every ICU service and
locale. Qt 6 calls only four ICU services (seen with `nm -D --undefined-only libQt6Core.so.6`):
case mapping (u_strToUpper/Lower), collation (ucol_*, QCollator and localeAwareCompare), time
zone names (ucal_*, QTimeZone::displayName) and charset converters (ucnv_*, QStringConverter for
encodings other than UTF-8/16/32 and Latin-1). It never calls the break iterators, number, unit,
currency or language-name formatting, transliteration or spell-out rules, whose data is most of
the file. This module rewrites the library without those items; what Qt can use stays intact.

Of the charset converter tables (*.cnv) only the multi-byte ones go (Shift-JIS, EUC-*, GB18030,
Big5, ...: 4.7 MB): the app decodes text with Python's codecs, and in the frozen app Qt still
converts UTF-8/16/32, Latin-1 and every single-byte code page. `pyinstaller build.spec --
--full-icu` keeps the whole library if that ever matters.

The ICU common data format is small: a header, a sorted table of contents (name and data
offsets), the names, then 16-byte aligned items. The library is an ELF shared object whose
.rodata section is exactly that blob, exported as icudt<N>_dat, followed by .dynamic; the rewrite
shortens .rodata and moves what follows it back by whole pages. Anything unexpected in the file
raises IcuTrimError, and build.spec then keeps the original library.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Item folders inside the package that Qt never reads (see the module docstring).
UNUSED_FOLDERS = ("brkitr", "curr", "lang", "unit", "translit", "rbnf")


class IcuTrimError(RuntimeError):
    """The file is not laid out the way this module understands; keep the original."""


@dataclass(frozen=True)
class TrimResult:
    items_before: int
    items_after: int
    bytes_before: int
    bytes_after: int


def unused_by_qt(name: str, data: bytes) -> bool:
    """True for a data item (e.g. 'icudt73l/lang/de.res') that Qt never loads."""
    _, _, rel = name.partition("/")
    folder, slash, _ = rel.partition("/")
    if slash and folder in UNUSED_FOLDERS:
        return True
    if rel.endswith(".cnv"):
        # A converter table starts with its own data header, then UConverterStaticData, whose
        # byte 71 is maxBytesPerChar. Single-byte tables (windows-125x, ISO-8859-x, KOI8, ...)
        # are small and stay; the multi-byte CJK tables are 90 % of the converter data.
        header_size = struct.unpack_from("<H", data, 0)[0]
        return len(data) > header_size + 71 and data[header_size + 71] > 1
    return False


def trim_common_data(blob: bytes, drop: Callable[[str, bytes], bool]) -> tuple[bytes, int, int]:
    """The ICU common data package `blob` without the items `drop` selects.

    Returns (new blob, item count before, item count after).
    """
    if len(blob) < 32 or blob[2:4] != b"\xda\x27":
        raise IcuTrimError("not an ICU data package (bad magic)")
    header_size = struct.unpack_from("<H", blob, 0)[0]
    if blob[12:16] != b"CmnD":
        raise IcuTrimError("not an ICU common data package (format is not CmnD)")
    (count,) = struct.unpack_from("<I", blob, header_size)
    toc = [struct.unpack_from("<II", blob, header_size + 4 + 8 * i) for i in range(count)]
    items: list[tuple[bytes, bytes]] = []
    for index, (name_offset, data_offset) in enumerate(toc):
        start = header_size + name_offset
        name = blob[start : blob.index(b"\0", start)]
        end = header_size + toc[index + 1][1] if index + 1 < count else len(blob)
        if end < header_size + data_offset:
            raise IcuTrimError("ICU table of contents is not in data order")
        items.append((name, blob[header_size + data_offset : end]))
    kept = [(name, data) for name, data in items if not drop(name.decode("ascii"), data)]

    # Same layout ICU's icupkg writes: count, (name offset, data offset) pairs, names, padding,
    # then each item on a 16-byte boundary. Offsets count from the end of the header.
    names = b""
    name_offsets = []
    names_start = 4 + 8 * len(kept)
    for name, _ in kept:
        name_offsets.append(names_start + len(names))
        names += name + b"\0"
    data_start = names_start + len(names)
    pad = -(header_size + data_start) % 16
    data_start += pad
    entries, body = [], []
    position = data_start
    for (_, data), name_offset in zip(kept, name_offsets, strict=True):
        entries.append(struct.pack("<II", name_offset, position))
        padded = data + b"\0" * (-len(data) % 16)
        body.append(padded)
        position += len(padded)
    out = (
        blob[:header_size]
        + struct.pack("<I", len(kept))
        + b"".join(entries)
        + names
        + b"\0" * pad
        + b"".join(body)
    )
    return out, count, len(kept)


def _elf64_tables(elf: bytes) -> tuple[list[list[int]], list[list[int]], int, int, int]:
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        raise IcuTrimError("not a 64-bit little-endian ELF file")
    phoff, shoff = struct.unpack_from("<QQ", elf, 0x20)
    phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHH", elf, 0x36)
    if phentsize != 56 or shentsize != 64:
        raise IcuTrimError("unexpected ELF header entry sizes")
    # Program header: type, flags, offset, vaddr, paddr, filesz, memsz, align.
    phdrs = [list(struct.unpack_from("<IIQQQQQQ", elf, phoff + i * 56)) for i in range(phnum)]
    # Section header: name, type, flags, addr, offset, size, link, info, addralign, entsize.
    shdrs = [list(struct.unpack_from("<IIQQQQIIQQ", elf, shoff + i * 64)) for i in range(shnum)]
    return phdrs, shdrs, phoff, shoff, shstrndx


def trim_library(
    source: Path, target: Path, drop: Callable[[str, bytes], bool] = unused_by_qt
) -> TrimResult:
    """Write `target`: the ICU data library `source` without the items `drop` selects."""
    elf = bytearray(source.read_bytes())
    phdrs, shdrs, phoff, shoff, shstrndx = _elf64_tables(bytes(elf))
    strtab_hdr = shdrs[shstrndx]

    def section_name(header: list[int]) -> str:
        start = strtab_hdr[4] + header[0]
        return elf[start : elf.index(b"\0", start)].decode("ascii")

    by_name = {section_name(h): (i, h) for i, h in enumerate(shdrs)}
    if ".rodata" not in by_name:
        raise IcuTrimError("no .rodata section")
    rodata_index, rodata = by_name[".rodata"]
    ro_offset, ro_size, ro_addr = rodata[4], rodata[5], rodata[3]
    ro_end = ro_offset + ro_size

    # The data symbol must be the whole of .rodata, so nothing else lives there.
    symbols = []
    for name in (".dynsym", ".symtab"):
        if name not in by_name:
            continue
        _, sym_hdr = by_name[name]
        str_hdr = shdrs[sym_hdr[6]]
        for k in range(sym_hdr[5] // 24):
            at = sym_hdr[4] + k * 24
            st_name, _info, _other, st_shndx, st_value, st_size = struct.unpack_from(
                "<IBBHQQ", elf, at
            )
            start = str_hdr[4] + st_name
            sym = elf[start : elf.index(b"\0", start)].decode("ascii", "replace")
            if re.fullmatch(r"icudt\d+_dat", sym):
                if st_shndx != rodata_index or st_value != ro_addr or st_size != ro_size:
                    raise IcuTrimError(f"{sym} is not exactly .rodata")
                symbols.append(at)
    if not symbols:
        raise IcuTrimError("no icudt<N>_dat symbol")

    # .rodata must end its load segment; allocated sections after it there may only be empty.
    segment = next(
        (p for p in phdrs if p[0] == 1 and p[2] <= ro_offset and ro_end <= p[2] + p[5]), None
    )
    if segment is None or segment[2] + segment[5] != ro_end or segment[5] != segment[6]:
        raise IcuTrimError(".rodata does not end its load segment")
    segment_end = segment[3] + segment[6]
    for header in shdrs:
        in_segment = header[2] & 0x2 and ro_addr + ro_size <= header[3] <= segment_end
        if header is not rodata and in_segment and header[5]:
            raise IcuTrimError(f"{section_name(header)} follows .rodata in its segment")

    new_blob, items_before, items_after = trim_common_data(bytes(elf[ro_offset:ro_end]), drop)
    # Move what follows by whole pages so every later segment keeps offset == vaddr (mod page).
    page = max(p[7] for p in phdrs if p[0] == 1)
    shift = (ro_size - len(new_blob)) // page * page
    new_size = ro_size - shift  # new blob plus zero padding up to the kept page boundary
    out = elf[:ro_offset] + new_blob + b"\0" * (new_size - len(new_blob)) + elf[ro_end:]

    for index, header in enumerate(phdrs):
        if header is segment:
            header[5] -= shift
            header[6] -= shift
        elif header[2] >= ro_end:
            header[2] -= shift
        struct.pack_into("<IIQQQQQQ", out, phoff + index * 56, *header)
    new_shoff = shoff - shift if shoff >= ro_end else shoff
    for index, header in enumerate(shdrs):
        if index == rodata_index:
            header[5] = new_size
        elif header[4] >= ro_end:
            if header[2] & 0x2 and header[3] <= segment_end:  # empty, at the segment's end
                header[3] -= shift
            header[4] -= shift
        struct.pack_into("<IIQQQQIIQQ", out, new_shoff + index * 64, *header)
    struct.pack_into("<Q", out, 0x28, new_shoff)
    for at in symbols:
        struct.pack_into("<Q", out, (at - shift if at >= ro_end else at) + 16, new_size)

    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(bytes(out))
    return TrimResult(items_before, items_after, len(elf), len(out))
