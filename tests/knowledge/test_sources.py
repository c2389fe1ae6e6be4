import zipfile

from knowledge.sources import clean_key, read_path, read_zip
from tests.factories import make_zip


def test_clean_key_refuses_escaping_paths():
    assert clean_key("help/returns.md") == "help/returns.md"
    assert clean_key("./help//a.md") == "help/a.md"
    assert clean_key("../etc/passwd") is None
    assert clean_key("/etc/passwd") is None
    assert clean_key("a/../../b.md") is None
    assert clean_key("..\\windows\\x.md") is None


def test_zip_members_keep_their_relative_path_as_key():
    data = make_zip({"help/returns.md": b"# R\n\nText.", "help/shipping.md": b"# S\n\nText.", ".DS_Store": b"x"})
    members = list(read_zip(data))
    assert [(m.source_key, m.error) for m in members] == [("help/returns.md", ""), ("help/shipping.md", "")]


def test_zip_path_escape_and_nested_archives_are_refused_one_by_one():
    data = make_zip({"../evil.md": b"# Evil", "ok.md": b"# Ok\n\nFine.", "inner.zip": b"PK"})
    members = {m.source_key: m for m in read_zip(data)}
    assert "escapes the archive" in members["../evil.md"].error
    assert "inside archives" in members["inner.zip"].error
    assert members["ok.md"].data is not None and not members["ok.md"].error


def test_zip_bomb_is_refused(settings):
    settings.INGEST_MAX_ZIP_RATIO = 50
    bomb = make_zip({"bomb.txt": b"0" * (5 * 1024 * 1024)})
    (member,) = read_zip(bomb)
    assert member.data is None and "zip bomb" in member.error


def test_member_over_size_limit_is_refused(settings):
    settings.INGEST_MAX_FILE_BYTES = 1000
    (member,) = read_zip(make_zip({"big.md": b"# Big\n\n" + b"word " * 400}, compression=zipfile.ZIP_STORED))
    assert "over the 1,000-byte limit" in member.error


def test_corrupt_zip_is_one_clear_error():
    (member,) = read_zip(b"PK\x03\x04 definitely not a zip")
    assert "could not be opened" in member.error


def test_folder_keys_are_relative_paths(tmp_path):
    (tmp_path / "kb" / "sub").mkdir(parents=True)
    (tmp_path / "kb" / "a.md").write_text("# A\n\nText.")
    (tmp_path / "kb" / "sub" / "b.txt").write_text("B\n\nText.")
    (tmp_path / "kb" / ".hidden.md").write_text("# H")
    keys = [m.source_key for m in read_path(tmp_path / "kb")]
    assert keys == ["a.md", "sub/b.txt"]


def test_zip_with_too_many_members_is_refused_whole(settings):
    settings.INGEST_MAX_ZIP_MEMBERS = 2
    (member,) = read_zip(make_zip({"a.md": b"# A", "b.md": b"# B", "c.md": b"# C"}))
    assert member.data is None and "holds 3 files, over the limit of 2" in member.error


def test_zip_expanding_past_the_total_limit_stops_there(settings):
    settings.INGEST_MAX_ZIP_TOTAL_BYTES = 250
    members = list(read_zip(make_zip({"a.md": b"# A\n\n" + b"a" * 200, "b.md": b"# B\n\n" + b"b" * 200})))
    assert members[0].data is not None
    assert members[1].data is None and "INGEST_MAX_ZIP_TOTAL_BYTES" in members[1].error
