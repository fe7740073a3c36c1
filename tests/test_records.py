"""Records read back from a run or grid folder: a damaged file is refused, naming the file (and the line),
never read as data."""

from __future__ import annotations

import re

import pytest

from sb3_distill.common.atomic_files import DamagedRecord, read_json_record, write_json_atomically
from sb3_distill.runs.periodic_evaluation import EVALUATIONS, PeriodicEvaluation, read_evaluation_rows

HEADER = "timesteps,mean_return,std_return,episodes\n"
ROWS = "512,20.0,1.5,5\n1024,35.0,2.5,5\n"


def test_a_json_record_reads_back(tmp_path):
    path = str(tmp_path / "done.json")
    write_json_atomically(path, {"status": "done", "teacher": "t.zip"})
    assert read_json_record(path, required=("teacher",)) == {"status": "done", "teacher": "t.zip"}
    with pytest.raises(FileNotFoundError):
        read_json_record(str(tmp_path / "missing.json"))


@pytest.mark.parametrize(
    "text, problem",
    [
        ('{"status": "done", "teach', r"line 1: Unterminated string .*\(it ends early: a write cut short\?\)"),
        ("", r"line 1: Expecting value \(it ends early"),
        ('{"status": "done"} trailing', r"line 1: Extra data\.$"),
        ("[1, 2]", r"expected a JSON object, got list"),
        ('{"status": "done"}', r"it lacks 'teacher'"),
    ],
)
def test_a_damaged_json_record_names_the_file(tmp_path, text, problem):
    path = tmp_path / "done.json"
    path.write_text(text)
    with pytest.raises(DamagedRecord, match=re.escape(f"{path} is damaged: ") + problem):
        read_json_record(str(path), required=("teacher",))


def test_a_json_record_that_is_not_text_names_the_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes(b'{"a": "\xff\xfe"}')
    with pytest.raises(DamagedRecord, match=re.escape(f"{path} is damaged: not UTF-8 text")):
        read_json_record(str(path))


def test_evaluation_rows_read_back(tmp_path):
    path = tmp_path / EVALUATIONS
    path.write_text(HEADER + ROWS)
    rows = read_evaluation_rows(str(path))
    assert rows == [
        {"timesteps": 512, "mean_return": 20.0, "std_return": 1.5, "episodes": 5},
        {"timesteps": 1024, "mean_return": 35.0, "std_return": 2.5, "episodes": 5},
    ]
    assert isinstance(rows[0]["timesteps"], int)
    assert read_evaluation_rows(str(path), ("timesteps", "mean_return"))[1] == {"timesteps": 1024, "mean_return": 35.0}


@pytest.mark.parametrize(
    "text, problem",
    [
        (HEADER + ROWS + "1536,3", r"line 4: damaged row '1536,3': it has no line end"),
        (HEADER + ROWS + "1536,3\n", r"line 4: damaged row '1536,3': 2 values where the header has 4"),
        (HEADER + "512,abc,1.5,5\n" + ROWS, r"line 2: damaged row '512,abc,1.5,5': mean_return is 'abc', not a number"),
        (HEADER + "512,nan,1.5,5\n", r"line 2: damaged row .*: mean_return is 'nan', not a finite number"),
        (HEADER + "512.5,2,1.5,5\n", r"line 2: damaged row .*: timesteps is '512.5', not a whole number >= 0"),
        ("timesteps,mean_ret", r"line 1: the header \['timesteps', 'mean_ret'\] lacks 'mean_return'"),
        ("", r"is damaged: it is empty"),
    ],
)
def test_a_damaged_evaluations_csv_names_the_file_and_line(tmp_path, text, problem):
    path = tmp_path / EVALUATIONS
    path.write_text(text)
    with pytest.raises(DamagedRecord, match=re.escape(str(path)) + r"(, | )" + problem):
        read_evaluation_rows(str(path))


def test_a_resumed_evaluation_drops_a_cut_last_row_with_a_warning(tmp_path):
    """The rows are written whole and atomically, so a cut last row is damage from outside: a resumed run
    drops it, saying so, and goes on; the report (above) refuses it instead."""
    (tmp_path / EVALUATIONS).write_text(HEADER + ROWS + "1536,3")
    evaluation = PeriodicEvaluation(None, str(tmp_path), every=512, episodes=5)  # type: ignore[arg-type]
    with pytest.warns(UserWarning, match=re.escape(f"{tmp_path / EVALUATIONS}, line 4: damaged row '1536,3'") + ".*dropped"):
        rows = evaluation._read_rows()
    assert [row["timesteps"] for row in rows] == [512, 1024]


def test_a_resumed_evaluation_refuses_damage_before_the_last_row(tmp_path):
    (tmp_path / EVALUATIONS).write_text(HEADER + "512,20.0\n" + ROWS)
    evaluation = PeriodicEvaluation(None, str(tmp_path), every=512, episodes=5)  # type: ignore[arg-type]
    with pytest.raises(DamagedRecord, match=re.escape(f"{tmp_path / EVALUATIONS}, line 2: damaged row '512,20.0'")):
        evaluation._read_rows()
