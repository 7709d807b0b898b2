"""Documents built at test time with the libraries people make them with, and hostile look-alikes.

Every sample has English paragraphs whose Spanish translation has well-known words, a bold run, a
table and (where the format has one) an image, so a test can check that only the text changed.
"""
from __future__ import annotations

import io
import zipfile

from PIL import Image

# English sentences and a Spanish word each must contain once translated by Apertium eng-spa.
SENTENCES = [("The dog is in the house.", "perro"), ("The cat is black.", "gato"),
             ("I have a red car.", "coche"), ("The white house is big.", "casa")]
BOLD_WORD, BOLD_TRANSLATION = "book", "libro"
TABLE = [["The red car", "The white house"], ["The black cat", "The big dog"]]
TABLE_WORDS = [["coche", "casa"], ["gato", "perro"]]


def png_bytes(width: int = 24, height: int = 16) -> bytes:
    """A small real PNG (a colour gradient), to embed and to pass off as a document."""
    image = Image.new("RGB", (width, height))
    image.putdata([(x * 10 % 256, y * 15 % 256, 128) for y in range(height) for x in range(width)])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def docx_bytes(paragraphs: int = 1) -> bytes:
    """A Word document: SENTENCES (repeated ``paragraphs`` times), a bold run, a table, an image."""
    import docx
    from docx.shared import Inches

    document = docx.Document()
    for _ in range(paragraphs):
        for sentence, _word in SENTENCES:
            document.add_paragraph(sentence)
    mixed = document.add_paragraph("I have a ")
    mixed.add_run(BOLD_WORD).bold = True
    mixed.add_run(".")
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, TABLE):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    document.add_picture(io.BytesIO(png_bytes()), width=Inches(1))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def odt_bytes() -> bytes:
    """An OpenDocument text: SENTENCES, a bold span, a table."""
    from odf.opendocument import OpenDocumentText
    from odf.style import Style, TextProperties
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import P, Span

    document = OpenDocumentText()
    bold = Style(name="Bold", family="text")
    bold.addElement(TextProperties(fontweight="bold"))
    document.automaticstyles.addElement(bold)
    for sentence, _word in SENTENCES:
        document.text.addElement(P(text=sentence))
    mixed = P(text="I have a ")
    mixed.addElement(Span(stylename=bold, text=BOLD_WORD))
    mixed.addText(".")
    document.text.addElement(mixed)
    table = Table(name="Things")
    table.addElement(TableColumn(numbercolumnsrepeated=2))
    for cells in TABLE:
        row = TableRow()
        for text in cells:
            cell = TableCell()
            cell.addElement(P(text=text))
            row.addElement(cell)
        table.addElement(row)
    document.text.addElement(table)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def odp_bytes() -> bytes:
    """An OpenDocument presentation: one page per sentence, in a text box."""
    from odf.draw import Frame, Page, TextBox
    from odf.opendocument import OpenDocumentPresentation
    from odf.style import MasterPage, PageLayout
    from odf.text import P

    presentation = OpenDocumentPresentation()
    layout = PageLayout(name="Layout")
    presentation.automaticstyles.addElement(layout)
    master = MasterPage(name="Master", pagelayoutname=layout)
    presentation.masterstyles.addElement(master)
    for number, (sentence, _word) in enumerate(SENTENCES):
        page = Page(name=f"page{number}", masterpagename=master)
        frame = Frame(width="20cm", height="3cm", x="2cm", y="2cm")
        box = TextBox()
        box.addElement(P(text=sentence))
        frame.addElement(box)
        page.addElement(frame)
        presentation.presentation.addElement(page)
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def pptx_bytes() -> bytes:
    """A presentation: one slide per sentence (title + a bold run in the body), and an image."""
    from pptx import Presentation
    from pptx.util import Inches

    presentation = Presentation()
    for sentence, _word in SENTENCES:
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = sentence
        body = slide.placeholders[1].text_frame.paragraphs[0]
        body.add_run().text = "I have a "
        bold = body.add_run()
        bold.text = BOLD_WORD
        bold.font.bold = True
    presentation.slides[0].shapes.add_picture(io.BytesIO(png_bytes()), Inches(1), Inches(1))
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def xlsx_bytes() -> bytes:
    """A workbook: SENTENCES in column A (A1 bold), a number in B1, a formula in B2."""
    import openpyxl
    from openpyxl.styles import Font

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row, (sentence, _word) in enumerate(SENTENCES, start=1):
        sheet.cell(row=row, column=1, value=sentence)
    sheet["A1"].font = Font(bold=True)
    sheet["B1"] = 42.5
    sheet["B2"] = "=B1*2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def with_entries(document: bytes, extra: dict[str, bytes], replace: dict[str, bytes] | None = None) -> bytes:
    """The document's container with entries added or replaced (for the hostile samples)."""
    replace = replace or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(document)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy:
        for entry in source.infolist():
            copy.writestr(entry, replace.get(entry.filename, source.read(entry)))
        for name, data in extra.items():
            copy.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def zip_bomb_docx() -> bytes:
    """A .docx with an 8 MiB run of zeros that deflates to a few kilobytes (ratio about 1000)."""
    return with_entries(docx_bytes(), {"word/media/filler.bin": bytes(8 * 1024 * 1024)})


def xxe_docx() -> bytes:
    """A .docx whose document.xml declares an external entity reading /etc/passwd."""
    document = docx_bytes()
    with zipfile.ZipFile(io.BytesIO(document)) as archive:
        xml = archive.read("word/document.xml").decode()
    head, _, body = xml.partition("?>")
    hostile = (head + '?>\n<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
               + body.replace("The cat is black.", "&xxe;", 1))
    return with_entries(document, {}, {"word/document.xml": hostile.encode()})


def macro_docx() -> bytes:
    """A .docx carrying a VBA project (what a .docm holds)."""
    return with_entries(docx_bytes(), {"word/vbaProject.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512)})
