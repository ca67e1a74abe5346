"""Data entry in the admin: the bar-list template, lists separated by semicolons or tabs, and a re-upload
that replaces the bars already recorded only once the uploader ticked the box saying so."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from backoffice.accounts.roles import Role
from backoffice.journal.models import JournalEntry
from issuance import services
from issuance.barlist import BarListInvalid, bar_list_template_csv, bar_rows_parse
from issuance.models import Bar, BarListImport, ImportState

from .factories import VaultFactory, bar_csv, deposit_make, user_with_role

pytestmark = pytest.mark.django_db

HEADER = ["Bar Number", "Refiner", "Year of Manufacture", "Gross Weight", "Fineness", "Fine Weight"]


def _listed(separator: str) -> str:
    rows = [HEADER, ["Z1", "Valcambi", "2024", "400.000", "999.9", ""], ["Z2", "PAMP", "2023", "401.250", "999.5", ""]]
    return "\n".join(separator.join(cells) for cells in rows) + "\n"


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_a_list_separated_by_commas_semicolons_or_tabs_is_read_the_same(separator):
    rows = bar_rows_parse(_listed(separator).encode())
    assert [(r.row, r.serial, r.refiner, str(r.fine_oz)) for r in rows] == [
        (2, "Z1", "Valcambi", "399.960"), (3, "Z2", "PAMP", "401.049")]


def test_a_list_separated_otherwise_is_refused_saying_so_and_a_semicolon_list_keeps_its_row_errors():
    with pytest.raises(BarListInvalid) as refused:
        bar_rows_parse(_listed("|"))
    assert refused.value.errors == [
        "row 1: the header 'Bar Number|Refiner|Year of Manufacture|Gross Weight|Fineness|Fine Weight' is not "
        "separated by commas, semicolons or tabs; save the list as CSV, or start from the bar-list template"]
    # A European spreadsheet: semicolons, and decimal commas, which are refused row by row.
    text = ("Bar Number;Refiner;Year of Manufacture;Gross Weight;Fineness\n"
            "E1;Argor;2024;400,5;999.9\nE2;Argor;2024;x;9\n")
    with pytest.raises(BarListInvalid) as refused:
        bar_rows_parse(text)
    assert refused.value.errors[0].startswith("row 2: gross weight '400,5' has a comma")
    assert refused.value.errors[1] == "row 3: gross weight 'x' is not a number"


def test_the_template_names_columns_and_units_and_its_example_row_is_a_valid_bar():
    text = bar_list_template_csv()
    assert text.splitlines()[0] == ("Bar Number,Refiner,Year of Manufacture,Gross Weight (troy oz),"
                                    "Fineness (parts per thousand),Fine Weight (troy oz)")
    (row,) = bar_rows_parse(text)
    assert (row.serial, str(row.gross_oz), str(row.fineness), str(row.fine_oz)) == (
        "AB123456", "400.125", "999.9", "400.084")


@pytest.fixture
def operator(roles):
    return user_with_role(Role.OPERATOR, username="entry-operator")


@pytest.fixture
def deposit(operator):
    return deposit_make(operator=operator, vault=VaultFactory(name="Entry vault"), reference="ENT-1",
                        csv=bar_csv([("OLD1", "400.000", "999.9", ""), ("OLD2", "400.000", "999.9", "")]))


def test_the_template_is_served_to_staff_and_linked_from_the_upload_page(client, operator, deposit):
    url = "/admin/issuance/deposit/bar-list-template.csv"
    assert client.get(url).status_code == 302  # to the admin's log-in page: the template is for staff
    client.force_login(operator)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="bar-list-template.csv"' in response["Content-Disposition"]
    assert response.content.decode() == bar_list_template_csv()
    page = client.get(f"/admin/issuance/deposit/{deposit.pk}/upload/").content.decode()
    assert f'id="bar-list-template" href="{url}"' in page


def test_a_re_upload_without_the_box_ticked_is_refused_and_changes_nothing(client, operator, deposit):
    client.force_login(operator)
    journal = JournalEntry.objects.count()
    page = client.get(f"/admin/issuance/deposit/{deposit.pk}/upload/").content.decode()
    assert "Replace the 2 bars already recorded" in page
    response = client.post(f"/admin/issuance/deposit/{deposit.pk}/upload/",
                           {"file": SimpleUploadedFile("new.csv", bar_csv([("NEW1", "400", "999.9", "")]).encode())})
    assert response.status_code == 200
    assert ("2 bars are already recorded: tick &#x27;Replace the 2 bars already recorded&#x27; to replace them. "
            "Nothing was changed.") in response.content.decode()
    assert not BarListImport.objects.exists() and JournalEntry.objects.count() == journal
    assert sorted(Bar.objects.filter(deposit=deposit).values_list("serial", flat=True)) == ["OLD1", "OLD2"]


def test_a_confirmed_re_upload_replaces_the_bars_whole_once_imported(client, operator, deposit):
    client.force_login(operator)
    new = bar_csv([("OLD1", "400.000", "999.9", ""), ("NEW1", "400", "999.9", ""), ("NEW2", "400", "999.9", "")])
    response = client.post(f"/admin/issuance/deposit/{deposit.pk}/upload/",
                           {"file": SimpleUploadedFile("new.csv", new.encode()), "replace": "on"})
    assert response.status_code == 302
    job = BarListImport.objects.get()
    assert job.replace_existing
    # The worker's step, run here (the message is sent only after a commit this test never makes).
    job = services.bar_list_import_run(job_id=job.pk)
    assert job.state == ImportState.SUCCEEDED, job.errors
    assert sorted(Bar.objects.filter(deposit=deposit).values_list("serial", flat=True)) == ["NEW1", "NEW2", "OLD1"]
    entry = JournalEntry.objects.filter(action="issuance.deposit.bars_imported").latest("pk")
    assert entry.data["replaced"] == 2 and entry.data["bars"] == 3
