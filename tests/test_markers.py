"""legonn.experiments.markers: a hand-written page's tables are filled between their markers and nothing
else changes; a marker the generator cannot fill is one error line naming the page and line."""

from __future__ import annotations

import pytest

from legonn.errors import LegoError
from legonn.experiments.markers import fill, fill_file

TABLES = {"squares": lambda n: [f"| {i} | {i * i} |" for i in range(1, int(n) + 1)], "empty": lambda: []}


def test_only_the_lines_between_a_marker_and_its_end_are_replaced(tmp_path):
    page = "# Title\n\nProse stays.\n\n<!-- table: squares 2 -->\nstale\nrows\n<!-- end -->\n\nMore prose.\n"
    filled = fill(page, TABLES)
    assert filled == ("# Title\n\nProse stays.\n\n<!-- table: squares 2 -->\n| 1 | 1 |\n| 2 | 4 |\n<!-- end -->\n\n"
                      "More prose.\n")
    assert fill(filled, TABLES) == filled  # filling is idempotent
    path = tmp_path / "page.md"
    path.write_text(page)
    assert fill_file(path, TABLES) and path.read_text() == filled
    assert not fill_file(path, TABLES)  # nothing to change: not rewritten


def test_an_empty_table_leaves_the_markers_together():
    assert fill("<!-- table: empty -->\nold\n<!-- end -->", TABLES) == "<!-- table: empty -->\n<!-- end -->"


@pytest.mark.parametrize("page, message", [
    ("intro\n<!-- table: cubes 2 -->\n<!-- end -->\n", "page.md:2: unknown table 'cubes' (known: empty, squares)"),
    ("intro\n\n<!-- table: squares 2 -->\n| 1 | 1 |\n", "page.md:3: table 'squares' has no '<!-- end -->' after it"),
    ("<!-- table: squares 2 -->\n<!-- table: empty -->\n<!-- end -->\n",
     "page.md:1: table 'squares' has no '<!-- end -->' after it"),
    ("text\n<!-- end -->\n", "page.md:2: '<!-- end -->' without a table marker before it"),
    ("<!-- table: squares -->\n<!-- end -->\n", "page.md:1: table 'squares': missing a required argument: 'n'"),
])
def test_a_marker_that_cannot_be_filled_is_one_line_naming_file_and_line(page, message):
    with pytest.raises(LegoError) as err:
        fill(page, TABLES, "page.md")
    assert str(err.value) == message


def test_a_target_that_is_not_system_equals_bound_names_its_marker(tmp_path):
    from recipe_scripts import load_script

    tables = load_script("recipes/results_table.py").TABLES
    page = "x\n<!-- table: swap-targets multi30k-swap lego-wemb -->\n<!-- end -->\n"
    with pytest.raises(LegoError, match=r"^p\.md:2: table 'swap-targets': target 'lego-wemb' is not SYSTEM=BOUND$"):
        fill(page, tables, "p.md")
