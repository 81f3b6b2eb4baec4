"""`tracker import-csv` on files as clinics make them: Excel in a European locale, quoted
decimal commas, stray empty cells and rows, header names typed by hand; what is ambiguous is
still refused, and a row is named by its first line."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from tests.cli.test_import_export import row_counts

# Excel "CSV UTF-8" where the decimal mark is a comma: BOM, CRLF, `;`, `12,5`, its own header
# spelling, two empty columns after the last one and two rows of empty cells at the end.
EUROPEAN = (
    "\ufeffPatient;Birth Year;Lesion;Compartment;Region;Laterality;Entity;Date;Modality;"
    "Size1 mm;SIZE2_MM;Density;Note;;\r\n"
    "P-0001;1968;L1;tendon;shoulder;right;hadd;2024-01-10;XR;14,5;8;dense;first visit;;\r\n"
    "P-0001;;L1;tendon;shoulder;right;;2024-04-12;XR;12,5;;dense;;;\r\n"
    ";;;;;;;;;;;;;;\r\n"
    ";;;;;;;;;;;;;;\r\n"
)


def write(tmp_path: Path, text: str, name: str = "visits.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def stored(run: Any, patient: str = "P-0001") -> dict[str, Any]:
    result = run("export", "--patient", patient)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["patients"][0]  # type: ignore[no-any-return]


def test_a_european_excel_file_reads_right(run: Any, tmp_path: Path) -> None:
    result = run("import-csv", str(write(tmp_path, EUROPEAN)))
    assert result.exit_code == 0, result.output
    assert "checking: 2 rows" in result.output  # the empty rows are not rows
    patient = stored(run)
    assert patient["birth_year"] == 1968
    [lesion] = patient["lesions"]
    assert lesion["entity"] == "hadd"
    assert [(o["date"], o["size_mm"]) for o in lesion["observations"]] == [
        ("2024-01-10", [14.5, 8]), ("2024-04-12", [12.5])]
    assert lesion["observations"][0]["note"] == "first visit"


def test_a_quoted_decimal_comma_in_a_comma_file(run: Any, tmp_path: Path) -> None:
    text = ("patient,lesion,compartment,region,laterality,date,modality,size1_mm\n"
            'P-0001,L1,tendon,shoulder,right,2024-01-10,XR,"12,5"\n')
    assert run("import-csv", str(write(tmp_path, text))).exit_code == 0
    assert stored(run)["lesions"][0]["observations"][0]["size_mm"] == [12.5]


def test_what_is_ambiguous_stays_refused(run: Any, tmp_path: Path, database_url: str) -> None:
    text = ("patient;lesion;compartment;region;laterality;date;modality;size1_mm\r\n"
            "P-0001;L1;tendon;shoulder;right;03/04/2024;XR;12,5\r\n"
            "P-0001;L1;tendon;shoulder;right;2024-05-02;XR;1.234,5\r\n")
    before = row_counts(database_url)
    result = run("import-csv", str(write(tmp_path, text)))
    assert result.exit_code == 2
    assert [line for line in result.output.splitlines() if line.startswith("error:")] == [
        'error: line 2, date: "03/04/2024" is not a date (YYYY-MM-DD): a spreadsheet wrote it'
        " in a local format, where day and month cannot be told apart; write date as"
        " YYYY-MM-DD",
        'error: line 3, size1_mm: "1.234,5" is not a number',
    ]
    assert row_counts(database_url) == before


def test_a_row_spanning_lines_is_named_by_its_first_line(run: Any, tmp_path: Path) -> None:
    text = ("patient,lesion,compartment,region,laterality,date,modality,size1_mm,note\r\n"
            'P-0001,L1,tendon,shoulder,right,2024-01-10,XR,14,"seen on\r\nthe AP view"\r\n'
            'P-0001,L1,tendon,shoulder,up,2024-02-10,XR,12,"two\r\nlines"\r\n'
            "P-0001,L1,tendon,shoulder,right,2024-03-10,XR,-3,\r\n")
    result = run("import-csv", str(write(tmp_path, text)))
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert [e.split(":")[1] for e in errors] == [" line 4, laterality", " line 6, size1_mm"]


def test_rejects_escape_formulas_and_import_once_corrected(run: Any, tmp_path: Path) -> None:
    """Cells that a spreadsheet would run (= + - @, tab) come back with an apostrophe; the line
    stays a number; the corrected rejects file imports as it is."""
    text = ("patient,lesion,compartment,region,laterality,date,modality,size1_mm,note\n"
            "P-0001,L1,tendon,shoulder,right,2024-01-10,XR,14,\n"
            'P-0002,L1,tendon,shoulder,right,2024-01-10,XR,-2,"=HYPERLINK(""http://x"")"\n'
            'P-0003,L1,tendon,shoulder,sideways,2024-01-10,XR,9,"@SUM(A1)"\n'
            'P-0004,L1,tendon,shoulder,right,2024-13-01,XR,7,"\t=1+2"\n')
    path = write(tmp_path, text)
    result = run("import-csv", str(path), "--skip-bad")
    assert result.exit_code == 0, result.output
    rejects_path = tmp_path / "visits.csv.rejects.csv"
    raw = rejects_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # Excel's UTF-8 and lines
    with rejects_path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header, *bad = rows
    cells = [dict(zip(header, r, strict=True)) for r in bad]
    assert [c["line"] for c in cells] == ["3", "4", "5"]
    assert (cells[0]["size1_mm"], cells[0]["note"]) == ("'-2", "'=HYPERLINK(\"http://x\")")
    assert cells[1]["note"] == "'@SUM(A1)" and cells[2]["note"] == "'\t=1+2"
    assert all(not v.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells
               for v in c.values())

    fixed = rejects_path.read_text(encoding="utf-8-sig").replace("'-2", "12").replace(
        "sideways", "left").replace("2024-13-01", "2024-01-13")
    rejects_path.write_text(fixed, encoding="utf-8-sig")
    again = run("import-csv", str(rejects_path))
    assert again.exit_code == 0, again.output
    assert stored(run, "P-0002")["lesions"][0]["observations"][0]["note"] == \
        '=HYPERLINK("http://x")'
    assert stored(run, "P-0004")["lesions"][0]["observations"][0]["note"] == "=1+2"
