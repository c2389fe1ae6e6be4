"""A second help centre, for the end-to-end sync tests: a pottery studio (made up for the tests,
not a real business), laid out the way small sites are built by hand: a cookie notice, a header
with a search box, a menu, breadcrumbs, a sidebar and a footer with the address and opening
hours, and the article in a plain <div> (no <main> or <article> to point at it).

`PAGES` holds each article's text; `EDITS` the later texts the tests put in their place. Every
question in `QUESTIONS` is answered by exactly one page."""

from __future__ import annotations

from dataclasses import dataclass

HELP = "/help/"
ARTICLES = {
    "/help/booking-a-class": "Booking a class",
    "/help/cancellations": "Cancelling a booking",
    "/help/firing-and-collection": "Firing and collecting your pieces",
    "/help/gift-vouchers": "Gift vouchers",
    "/help/membership": "Studio membership",
}

PAGES = {
    "/help/booking-a-class": """
<p>Classes are booked on this website up to eight weeks ahead; a place is held for you once it is paid.</p>
<h2>Taster sessions</h2>
<p>A wheel-throwing taster session lasts two hours and costs 45 pounds per person, clay and tools included.</p>
<h2>Children</h2>
<p>Children aged 10 and over may join a class when an adult books a place beside them.</p>
""",
    "/help/cancellations": """
<p>You can cancel a class booking up to 48 hours before it starts and get a full refund.</p>
<h2>Late cancellations</h2>
<p>Cancellations made later than that receive studio credit instead of a refund, valid for six months.</p>
""",
    "/help/firing-and-collection": """
<p>Your pieces are glaze-fired and ready to collect within three weeks of your class.</p>
<h2>Collecting</h2>
<p>We keep finished pieces on the collection shelf for 60 days; after that they are given to a local school.</p>
""",
    "/help/gift-vouchers": """
<p>Gift vouchers are valid for twelve months from the date of purchase.</p>
<h2>Using a voucher</h2>
<p>A voucher pays for any class or a month of studio membership; enter its code when you book.</p>
""",
    "/help/membership": """
<p>Studio membership costs 60 pounds a month and includes ten hours of open studio time each week.</p>
<h2>Clay and glazes</h2>
<p>Members receive 12 kilograms of stoneware clay a month; glazes and firing are included.</p>
""",
}

EDITS = {
    "/help/cancellations": PAGES["/help/cancellations"].replace("up to 48 hours", "up to 72 hours"),
    "/help/firing-and-collection": PAGES["/help/firing-and-collection"]
    .replace("within three weeks", "within two weeks")
    .replace("for 60 days", "for 30 days"),
}

# Never to be synced: outside /help/ (the include pattern) or under /help/internal/ (excluded).
OUTSIDE = {
    "/about": ("About the studio", "<p>The studio was founded by two potters in an old dairy barn.</p>"),
    "/help/internal/staff-rota": ("Staff rota", "<p>Kiln duty rota for staff: Tuesdays and Fridays.</p>"),
}

TEMPLATE_WORDS = ("cookies", "Opening hours", "Fernhollow Lane", "Popular articles", "Search the help centre")


@dataclass(frozen=True)
class Question:
    text: str
    path: str  # the page that answers it
    words: str  # what its answer says, in the page's current text


QUESTIONS = (
    Question("How much does a wheel-throwing taster session cost?", "/help/booking-a-class", "45 pounds"),
    Question("How late can I cancel my class and still get a full refund?", "/help/cancellations", "48 hours"),
    Question("How long until my glazed pieces are ready to collect?", "/help/firing-and-collection", "three weeks"),
    Question("How long is a gift voucher valid for?", "/help/gift-vouchers", "twelve months"),
    Question("How much clay do studio members get each month?", "/help/membership", "12 kilograms"),
)


def page(title: str, body: str, articles: dict[str, str] = ARTICLES) -> str:
    menu = "".join(f'<li><a href="{path}">{name}</a></li>' for path, name in articles.items())
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title} | Fernhollow Pottery Studio</title></head>
<body>
<div class="cookie-notice" id="cookies"><p>This site uses cookies to remember your basket and to count visits.
<a href="/cookies">Read about cookies</a> <button>Accept</button> <button>Reject</button></p></div>
<div class="top"><a href="/"><img src="/logo.png" alt="Fernhollow Pottery Studio"></a>
<form action="/search"><label>Search the help centre <input name="q"></label></form></div>
<div class="menu"><ul><li><a href="/">Home</a></li><li><a href="/classes">Classes</a></li>
<li><a href="{HELP}">Help</a></li><li><a href="/about">About</a></li></ul></div>
<ul class="breadcrumbs"><li><a href="/">Home</a></li><li><a href="{HELP}">Help</a></li><li>{title}</li></ul>
<div class="columns">
<div class="sidebar"><h3>Popular articles</h3><ul>{menu}</ul></div>
<div class="content">
<h1>{title}</h1>
{body}
</div>
</div>
<div class="footer"><p>Fernhollow Pottery Studio, 4 Fernhollow Lane.
Opening hours: Tuesday to Sunday, 10:00 to 18:00.</p>
<p>Copyright 2026. <a href="/privacy">Privacy</a> · <a href="/terms">Terms</a> ·
<a href="/help/internal/staff-rota">Staff</a></p></div>
</body></html>"""


def publish(site, texts: dict[str, str] | None = None) -> None:
    """Put the studio's help centre on a `tests.knowledge.help_site.HelpSite`: the index, every
    article in `texts` (default: `PAGES`; an article left out is deleted, and gone from the menus),
    and the pages that must never be synced."""
    texts = PAGES if texts is None else texts
    live = {path: ARTICLES[path] for path in texts}
    for path in ARTICLES:
        site.remove(path)
    site.page(
        "/", page("Fernhollow Pottery Studio", f'<p>Clay classes for everyone. <a href="{HELP}">Help</a></p>', live)
    )
    items = "".join(f'<li><a href="{path}">{name}</a></li>' for path, name in live.items())
    site.page(
        HELP, page("Help centre", f"<p>Answers to the questions our students ask most.</p><ul>{items}</ul>", live)
    )
    for path, text in texts.items():
        site.page(path, page(ARTICLES[path], text, live))
    for path, (title, text) in OUTSIDE.items():
        site.page(path, page(title, text, live))
