#!/usr/bin/python3
"""Writes tests/fixtures/attach/: minimal real files of every accepted type
and hostile look-alikes (HTML renamed .pdf, ELF renamed .png, polyglots,
macro Office files, a ZIP carrying an .exe).  test_sniff.c and
tests/integration/test_attach.py use them.  Run from the repository root;
the output is deterministic (fixed ZIP dates)."""
import io
import os
import struct
import zipfile
import zlib

OUT = "tests/fixtures/attach"

CT = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
    "docm": "application/vnd.ms-word.document.macroEnabled.main+xml",
}
PART = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml",
        "pptx": "ppt/presentation.xml", "docm": "word/document.xml"}


def zipped(entries, method=zipfile.ZIP_DEFLATED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", method) as z:
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0)), data,
                       compress_type=method)
    return b.getvalue()


def office(kind, extra=(), method=zipfile.ZIP_DEFLATED):
    types = ('<?xml version="1.0" encoding="UTF-8"?>\n<Types xmlns="http://'
             'schemas.openxmlformats.org/package/2006/content-types">'
             '<Default Extension="xml" ContentType="application/xml"/>'
             f'<Override PartName="/{PART[kind]}" ContentType="{CT[kind]}"/>'
             '</Types>')
    return zipped([("[Content_Types].xml", types),
                   (PART[kind], "<doc>履歴書</doc>")] + list(extra), method)


def png():
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(
            ">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(
        ">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) + chunk(
        b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9"
       b"\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00"
       b"\x02\x02D\x01\x00;")
JPEG = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00"
        b"\x00" + bytes(range(64)) * 4 + b"\xff\xd9")
PDF = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog/Pages 2 0 R>>"
       b"endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer"
       b"<</Root 1 0 R>>\n%%EOF\n")
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
HEIC = (struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" +
        b"mif1heic" + struct.pack(">I", 8) + b"mdat")

SAMPLES = {
    "ok.pdf": PDF, "ok.jpg": JPEG, "ok.png": png(), "ok.gif": GIF,
    "ok.webp": WEBP, "ok.heic": HEIC,
    "ok.txt": "お問い合わせの件、よろしくお願いします。\nline 2\n".encode(),
    "ok.csv": "名前,電話\n山田,03-1234-5678\n".encode(),
    "sjis.csv": "名前,電話\n山田,03-1234-5678\n".encode("shift_jis"),
    "ok.docx": office("docx"), "ok.xlsx": office("xlsx"),
    "ok.pptx": office("pptx"),
    "stored.docx": office("docx", method=zipfile.ZIP_STORED),
    "ok.zip": zipped([("readme.txt", "hello\n"), ("photo.jpg", JPEG)]),
    # hostile
    "macro.docx": office("docm"),
    "vba.docx": office("docx", [("word/vbaProject.bin", b"\xd0\xcf\x11\xe0")]),
    "exe.zip": zipped([("invoice.pdf.exe", b"MZ\x90\x00")]),
    "html.pdf": b"<!DOCTYPE html><html><script>alert(1)</script></html>\n",
    "pdfhtml.pdf": PDF[:20] + b"<html><body><script>alert(1)</script>" + PDF[20:],
    "elf.png": b"\x7fELF\x02\x01\x01\x00" + bytes(120),
    "mz.jpg": b"MZ\x90\x00\x03\x00\x00\x00" + bytes(120),
    "gifar.gif": GIF + zipped([("META-INF/MANIFEST.MF", "x"), ("A.class", "y")]),
    "svg.png": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "svg.txt": b'  <svg xmlns="http://www.w3.org/2000/svg"></svg>',
    "script.txt": b"#!/bin/sh\nrm -rf /\n",
    "gz.zip": zlib.compress(b"x")[:0] + b"\x1f\x8b\x08\x00" + bytes(20),
    "nul.txt": b"abc\x00def\n",
    "pdfzip.docx": zipped([("%PDF-1.4.txt", "x")]),
    "jpg.pdf": JPEG,
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SAMPLES.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
