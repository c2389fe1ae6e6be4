import pytest

from knowledge.parsing import ParseError, parse_document
from tests.factories import RETURNS_MD, encrypt_pdf, make_pdf


def test_markdown_keeps_headings_lists_and_title():
    doc = parse_document("help/returns.md", RETURNS_MD.encode())
    assert doc.title == "Returns and refunds"
    paths = {b.heading_path for b in doc.blocks}
    assert ("Returns and refunds", "E-bikes") in paths
    items = [b for b in doc.blocks if b.is_item]
    assert len(items) == 2 and items[1].text.startswith("Return shipping costs €19.90")


def test_markdown_tables_become_rows_that_carry_their_column_names():
    doc = parse_document("t.md", b"# Sizes\n\n| Height | Frame |\n|---|---|\n| 160-170 cm | S |\n| 170-180 cm | M |\n")
    rows = [b.text for b in doc.blocks if b.is_item]
    assert rows == ["Height: 160-170 cm | Frame: S", "Height: 170-180 cm | Frame: M"]


def test_html_table_rows_carry_their_header_and_the_header_row_is_not_a_row():
    html = (
        b"<html><body><h1>Returns</h1><table><tr><th>Tier</th><th>Return window</th></tr>"
        b"<tr><td>Silver</td><td>30 days</td></tr><tr><td>Gold</td><td></td></tr></table>"
        b"<table><tr><td>no</td><td>header</td></tr></table></body></html>"
    )
    rows = [b.text for b in parse_document("r.html", html).blocks if b.is_item]
    assert rows == ["Tier: Silver | Return window: 30 days", "Tier: Gold", "no | header"]


def test_html_drops_scripts_styles_and_navigation():
    html = b"""<html><head><title>Insurance | Shop</title><style>p{color:red}</style></head>
    <body><nav><a href='/'>Home</a><a href='/x'>Secret nav link</a></nav>
    <script>alert('injected')</script>
    <h1>Bike insurance</h1><p>Theft cover costs EUR 9 per month.</p>
    <h2>Claims</h2><ul><li>Report within 48 hours.</li><li>Include a police report.</li></ul>
    <footer>Copyright</footer></body></html>"""
    doc = parse_document("insurance.html", html)
    text = doc.text
    assert doc.title == "Bike insurance"
    assert "alert" not in text and "Secret nav link" not in text and "color:red" not in text and "Copyright" not in text
    items = [b for b in doc.blocks if b.is_item]
    assert [b.text for b in items] == ["Report within 48 hours.", "Include a police report."]
    assert items[0].heading_path == ("Bike insurance", "Claims")


def test_html_title_falls_back_to_title_tag():
    doc = parse_document(
        "x.html", b"<html><head><title>Opening hours</title></head><body><p>We open at 9.</p></body></html>"
    )
    assert doc.title == "Opening hours"


def test_plain_text_first_line_is_title():
    doc = parse_document(
        "scheme.txt", b"Cycle to work\n\nSave up to 40 percent on a new bike.\n\nEligibility\n\nYou must be employed.\n"
    )
    assert doc.title == "Cycle to work"
    assert doc.blocks[-1].heading_path == ("Cycle to work", "Eligibility")


def test_plain_text_heading_directly_above_its_paragraph():
    doc = parse_document(
        "fees.txt",
        b"Vehicle fees\n\nRegistration fee \nThe fee depends on the weight.\n\n"
        b"County use tax\nResidents of some counties pay a use tax.\n",
    )
    assert [b.heading_path[-1] for b in doc.blocks] == ["Registration fee", "County use tax"]
    assert doc.blocks[0].text == "The fee depends on the weight."


def test_hard_wrapped_plain_text_is_not_mistaken_for_headings():
    doc = parse_document(
        "wrapped.txt",
        b"Returns\n\nYou can send an e-bike back within fourteen\ndays of delivery if the battery was\n"
        b"never charged.\n\nA sentence that ends with a full stop.\nAnother one follows.\n",
    )
    assert {b.heading_path for b in doc.blocks} == {("Returns",)}
    assert doc.blocks[0].text.startswith("You can send an e-bike back within fourteen days")


@pytest.mark.parametrize(
    "paragraph",
    [
        b"You can return an e-bike within\n14 days of delivery if unused.",
        b"Bikes bought online can be returned to\nBerlin or Munich stores only.",
        b"Our workshop checks brakes gears\nWheels and lights are checked too\nBring the bike in any weekday\n",
    ],
)
def test_wrapped_lines_are_not_headings_even_before_a_capital_or_digit(paragraph):
    doc = parse_document("policy.txt", b"Policy\n\n" + paragraph)
    assert {b.heading_path for b in doc.blocks} == {("Policy",)}
    assert doc.blocks[0].text.startswith(paragraph.decode().split("\n")[0].strip())


def test_pdf_text_layer():
    doc = parse_document(
        "warranty.pdf", make_pdf(["Warranty", "", "Frames carry a lifetime warranty."], title="Warranty")
    )
    assert doc.title == "Warranty"
    assert "lifetime warranty" in doc.text


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.md", b"", "empty"),
        ("blank.txt", b"   \n\n  ", "empty"),
        ("image.png", b"\x89PNG....", "unsupported file type '.png'"),
        ("noext", b"hello", "unsupported file type '(none)'"),
        ("latin1.txt", "Prix : 10 €, réduction".encode("cp1252"), "not UTF-8"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "could not be read"),
        ("scan.pdf", make_pdf([]), "no text layer"),
    ],
)
def test_bad_files_raise_clear_errors(name, data, message):
    with pytest.raises(ParseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_document(name, data)


def test_encrypted_pdf_is_refused():
    data = encrypt_pdf(make_pdf(["Secret terms."]), "s3cret")
    with pytest.raises(ParseError, match="encrypted"):
        parse_document("secret.pdf", data)
