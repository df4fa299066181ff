"""Generated test data that tests and benchmarks share (benchmarks import it, never the reverse).

- :func:`generate`: contact lists as people keep them: many files in mixed encodings and
  delimiters, people on several lists, a few % invalid addresses of many kinds;
- :func:`write_project`: a project folder (contact list, campaign file, templates) with any
  number of recipients, for sending;
- :func:`seed_deliveries`: ledger rows as if a message had been sent, for the web app's links.

Both are deterministic for a given seed.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import re
import shutil
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from listonosz.contacts.merge import SourceList
from listonosz.contacts.text import clean_text
from listonosz.store import SENT, Ledger, Outcome, delivery_key

REPO = Path(__file__).resolve().parent.parent

# Contact lists: generate()

FILES = 10
ENCODINGS = ("utf-8", "cp1250", "utf-8-sig", "iso-8859-2", "utf-8")
DELIMITERS = (",", ";", "\t", "|", ";")

FEMALE = [
    "Anna",
    "Maria",
    "Katarzyna",
    "Małgorzata",
    "Agnieszka",
    "Barbara",
    "Ewa",
    "Krystyna",
    "Elżbieta",
    "Zofia",
    "Teresa",
    "Joanna",
    "Magdalena",
    "Monika",
    "Jadwiga",
    "Danuta",
    "Irena",
    "Halina",
    "Helena",
    "Beata",
    "Aleksandra",
    "Marta",
    "Dorota",
    "Grażyna",
    "Jolanta",
    "Iwona",
    "Bożena",
    "Urszula",
    "Justyna",
    "Renata",
    "Alicja",
    "Sylwia",
    "Agata",
    "Paulina",
    "Łucja",
    "Ślęzana",
    "Źdźisława",
    "Jagoda",
    "Weronika",
    "Kinga",
    "Żaneta",
]
MALE = [
    "Jan",
    "Andrzej",
    "Piotr",
    "Krzysztof",
    "Stanisław",
    "Tomasz",
    "Paweł",
    "Józef",
    "Marcin",
    "Marek",
    "Michał",
    "Grzegorz",
    "Jerzy",
    "Tadeusz",
    "Adam",
    "Łukasz",
    "Zbigniew",
    "Ryszard",
    "Dariusz",
    "Henryk",
    "Mariusz",
    "Kazimierz",
    "Wojciech",
    "Robert",
    "Mateusz",
    "Jacek",
    "Sławomir",
    "Kuba",
    "Barnaba",
    "Kosma",
    "Jarema",
    "Ścibor",
    "Bogusław",
    "Zdzisław",
    "Mieczysław",
]
SURNAME_STEMS = [
    "Nowak",
    "Kowalsk",
    "Wiśniewsk",
    "Wójcik",
    "Kowalczyk",
    "Kamińsk",
    "Lewandowsk",
    "Zielińsk",
    "Szymańsk",
    "Woźniak",
    "Dąbrowsk",
    "Kozłowsk",
    "Jankowsk",
    "Mazur",
    "Kwiatkowsk",
    "Krawczyk",
    "Piotrowsk",
    "Grabowsk",
    "Nowakowsk",
    "Pawłowsk",
    "Michalsk",
    "Nowick",
    "Adamczyk",
    "Dudek",
    "Zając",
    "Wieczorek",
    "Jabłońsk",
    "Król",
    "Majewsk",
    "Olszewsk",
    "Jaworsk",
    "Wróbel",
    "Malinowsk",
    "Pawlak",
    "Witkowsk",
    "Walczak",
    "Stępień",
    "Górsk",
    "Rutkowsk",
    "Michalak",
    "Sikora",
    "Ostrowsk",
    "Baran",
    "Duda",
    "Szewczyk",
    "Tomaszewsk",
    "Pietrzak",
    "Marciniak",
    "Wróblewsk",
    "Zalewsk",
    "Jakubowsk",
    "Jasińsk",
    "Zawadzk",
    "Sadowsk",
    "Bąk",
    "Chmielewsk",
    "Włodarczyk",
    "Borkowsk",
    "Czarneck",
    "Sawick",
    "Sokołowsk",
    "Urbańsk",
    "Kubiak",
    "Maciejewsk",
    "Szczepańsk",
    "Kucharsk",
    "Wilk",
    "Kalinowsk",
    "Lis",
    "Mazurek",
    "Wysock",
    "Adamsk",
    "Kaźmierczak",
    "Wasilewsk",
    "Sobczak",
    "Czerwińsk",
    "Andrzejewsk",
    "Cieślak",
    "Głowack",
    "Zakrzewsk",
    "Kołodziej",
    "Sikorsk",
    "Krajewsk",
    "Gajewsk",
    "Szymczak",
    "Szulc",
    "Baranowsk",
    "Laskowsk",
    "Brzezińsk",
    "Makowsk",
    "Ziółkowsk",
    "Przybylsk",
    "Awksentiuk",
    "Sacharczuk",
    "Trochimczuk",
    "Kiryluk",
    "Łapińsk",
    "Żukowsk",
    "Ćwiklińsk",
    "Grądzk",
]
TOWNS = [
    "Białystok",
    "Łomża",
    "Suwałki",
    "Augustów",
    "Zambrów",
    "Grajewo",
    "Hajnówka",
    "Sokółka",
    "Bielsk",
    "Siemiatycze",
    "Kolno",
    "Mońki",
    "Sejny",
    "Wysokie",
    "Choroszcz",
    "Supraśl",
    "Wasilków",
    "Zabłudów",
    "Czyże",
    "Dobrzyniewo",
    "Narew",
    "Orla",
    "Tykocin",
    "Łapy",
    "Knyszyn",
    "Goniądz",
    "Szczuczyn",
    "Rajgród",
    "Lipsk",
    "Dąbrowa",
    "Michałowo",
    "Gródek",
    "Kleszczele",
    "Drohiczyn",
    "Ciechanowiec",
    "Brańsk",
    "Jedwabne",
    "Stawiski",
    "Filipów",
    "Raczki",
]
ORG_PATTERNS = (
    "Urząd Gminy {town}",
    "Urząd Miejski w {town}",
    "Gminny Ośrodek Pomocy Społecznej w {town}",
    "Miejski Ośrodek Pomocy Społecznej w {town}",
    "Powiatowy Urząd Pracy w {town}",
    "Starostwo Powiatowe w {town}",
    "Spółdzielnia Socjalna {word}",
    "Fundacja {word}",
    "Stowarzyszenie {word} z {town}",
    "Parafia św. {saint} w {town}",
    "Koło Gospodyń Wiejskich w {town}",
    "Centrum Integracji Społecznej w {town}",
    "Zakład Aktywności Zawodowej w {town}",
    "Lokalna Grupa Działania {word}",
    'Gazeta "{word}"',
    "Radio {word}",
)
WORDS = [
    "Razem",
    "Ostoja",
    "Tratwa",
    "Nadzieja",
    "Przystań",
    "Horyzont",
    "Dobro",
    "Wspólnota",
    "Podlasie",
    "Narew",
    "Puszcza",
    "Żubr",
    "Kraina",
    "Źródło",
    "Ścieżka",
    "Łąka",
    "Zagroda",
    "Słoneczna",
    "Przyszłość",
    "Pomost",
]
SAINTS = ["Anny", "Józefa", "Wojciecha", "Stanisława", "Mikołaja", "Trójcy", "Rocha", "Jana"]
JOB_TITLES = [
    "Wójt",
    "Burmistrz",
    "Sekretarz",
    "Dyrektor",
    "Kierownik",
    "Prezes",
    "Członek",
    "zarządu",
    "Specjalista",
    "Pracownik",
    "socjalny",
    "Koordynator",
    "Redaktor",
    "Proboszcz",
    "Skarbnik",
    "Inspektor",
    "Asystent",
]
FREE_MAIL = (
    "wp.pl",
    "o2.pl",
    "onet.pl",
    "interia.pl",
    "gmail.com",
    "op.pl",
    "poczta.onet.pl",
    "vp.pl",
    "tlen.pl",
    "interia.eu",
)
TYPO_DOMAINS = ("gmail.con", "wp.p", "onet.pll", "interia.ppl", "o2.p", "gmial.com")
GROUPS = ("jst", "ngo", "koscioly", "owes", "rynek_pracy", "nauka", "biznes", "media")
#: The generated files' header rows: the ISO-8859-2 files spell theirs without diacritics.
HEADERS = ("Imię", "Nazwisko", "Adres e-mail", "Instytucja", "Stanowisko", "Płeć")
LATIN2_HEADERS = ("IMIE", "NAZWISKO", "E-MAIL", "ORGANIZACJA", "FUNKCJA", "PLEC")
EMAIL_COLUMNS = frozenset({HEADERS[2], LATIN2_HEADERS[2]})
_ASCII = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")


@dataclass(frozen=True, slots=True)
class GeneratedFile:
    path: Path
    label: str
    group: str
    encoding: str
    delimiter: str


@dataclass
class Generated:
    """The files, and each row's address as a list holds it (trimmed) with its place."""

    files: list[GeneratedFile]
    addresses: list[tuple[str, int, str]]  # (label, row, address)
    people: int
    on_several_lists: int

    def sources(self) -> list[SourceList]:
        return [SourceList(f.path, f.group, f.label) for f in self.files]


def _invalid_address(rng: random.Random, local: str, domain: str, unicode_ok: bool) -> str:
    """An address email-validator rejects, of one of many kinds."""
    kinds = [
        lambda: f"{local}{domain}",  # no @
        lambda: f"{local}@@{domain}",
        lambda: f"{local.replace('.', ' ')}@{domain}",  # a space inside
        lambda: f"{local}@{domain.replace('.', ',', 1)}",
        lambda: f"{local}@{domain}.",
        lambda: f"{local}@{domain.split('.')[0]}",  # no dot in the domain
        lambda: f"{local}..x@{domain}",
        lambda: f".{local}@{domain}",
        lambda: f"{local}.@{domain}",
        lambda: f"{local}@{domain.split('.')[0]}.local",
        lambda: f"{local}@mail.test",
        lambda: f"{local}@host.invalid",
        lambda: f"{local}@localhost",
        lambda: f"{local}@{domain.split('.')[0]}.123",  # numeric TLD
        lambda: f"{local}@{'a' * 64}.pl",  # a label over 63 characters
        lambda: f"{local}@{'.'.join(['abcdefghij'] * 24)}.pl",  # address over 254
        lambda: f"{local}@{domain.split('.')[0]}_x.pl",
        lambda: f"{local}@-{domain}",
        lambda: f"{local}@{domain.split('.')[0]}-.pl",
        lambda: f"{local}@ab--cd.pl",
        lambda: f'"{local} x"@{domain}',
        lambda: f"Jan <{local}@{domain}>",
        lambda: f"{local}@[10.0.0.1]",
        lambda: f"@{domain}",
        lambda: f"{local}@",
        lambda: f"{local}(at){domain}",
        lambda: f"{local};{local}@{domain}",
        lambda: "",
    ]
    if unicode_ok:  # characters every one of our encodings can write
        kinds.append(lambda: f"zażółć.{local}@{domain}")  # non-ASCII local part, no SMTPUTF8
        kinds.append(lambda: f"{local}@xn--zz.pl")  # punycode that is not
    return rng.choice(kinds)()


def _valid_unusual(rng: random.Random, local: str, domain: str) -> str:
    """An address email-validator accepts although it looks odd."""
    return rng.choice(
        [
            f"{local}+news@{domain}",
            f"o'{local}@{domain}",
            f"{local}@żółw-{domain.split('.')[0]}.pl",  # IDN: sent as punycode
            f"{local}@xn--w-uga1v8h.pl",
            f"{'x' * 70}@{domain}",  # a long local part (only strict mode limits it)
            f"{local}@sub.{domain}",
            f"{local}@123.{domain}",
            f"{local}@{domain.upper()}",
            f"{local}_{local}@{domain}",
            f"{local}@{rng.choice(TYPO_DOMAINS)}",  # a likely typo: kept, with a warning
            f"{local}@{domain}".upper(),
        ]
    )


def generate(directory: Path, rows: int, seed: int = 2016, files: int = FILES) -> Generated:
    """Write ``rows`` contact rows into ``files`` CSV files under ``directory``."""
    rng = random.Random(seed)
    # 70 % of people on one list, 30 % on two or three: rows ≈ people × 1.36.
    counts: list[int] = []
    total = 0
    while total < rows:
        count = 1 if rng.random() < 0.7 else (2 if rng.random() < 0.8 else 3)
        count = min(count, rows - total)
        counts.append(count)
        total += count
    towns = [(town, town.lower().translate(_ASCII)) for town in TOWNS]  # (name, domain part)
    institutional = [
        f"{prefix}-{slug}{suffix}"
        for _, slug in towns
        for prefix in ("ug", "um", "gops", "mops", "pup", "starostwo", "cis", "parafia", "lgd")
        for suffix in (".pl", ".gov.pl", ".org.pl", ".eu")
    ]
    used: set[str] = set()
    per_file: list[list[tuple[str, ...]]] = [[] for _ in range(files)]
    for count in counts:
        female = rng.random() < 0.55
        first = rng.choice(FEMALE if female else MALE)
        stem = rng.choice(SURNAME_STEMS)
        last = stem + ("a" if female else "i") if stem.endswith(("sk", "ck", "dzk")) else stem
        town, _ = rng.choice(towns)
        domain = rng.choice(FREE_MAIL) if rng.random() < 0.5 else rng.choice(institutional)
        local = rng.choice(
            [
                f"{first}.{last}",
                f"{first[0]}.{last}",
                f"{first}{last}",
                f"{last}.{first}",
                f"{first}.{last}{rng.randint(1, 99)}",
            ]
        )
        local = unicodedata.normalize("NFC", local).lower().translate(_ASCII)
        address = f"{local}@{domain}"
        while address in used:
            address = f"{local}{rng.randint(100, 99999)}@{domain}"
        used.add(address)
        roll = rng.random()
        org = rng.choice(ORG_PATTERNS).format(
            town=town, word=rng.choice(WORDS), saint=rng.choice(SAINTS)
        )
        person = (first, last, org, rng.choice(JOB_TITLES), "K" if female else "M")
        for index, target in enumerate(rng.sample(range(files), count)):
            if roll < 0.03:
                written = _invalid_address(rng, local, domain, True)
            elif roll < 0.05:
                written = _valid_unusual(rng, local, domain)
            else:
                written = address
            if index and rng.random() < 0.3:
                written = written.upper()  # the same person, written differently elsewhere
            per_file[target].append((written, *person))
    result = Generated([], [], len(counts), sum(1 for c in counts if c > 1))
    for number, rows_of_file in enumerate(per_file):
        encoding, delimiter = ENCODINGS[number % 5], DELIMITERS[(number + number // 5) % 5]
        group = GROUPS[number % len(GROUPS)]
        path = directory / f"lista-{number + 1:02d}.{'tsv' if delimiter == chr(9) else 'csv'}"
        label = path.name
        file = GeneratedFile(path, label, group, encoding, delimiter)
        result.files.append(file)
        _write(file, rows_of_file, rng, result.addresses)
    return result


def _write(
    file: GeneratedFile,
    rows: list[tuple[str, ...]],
    rng: random.Random,
    addresses: list[tuple[str, int, str]],
) -> None:
    headers = LATIN2_HEADERS if file.encoding == "iso-8859-2" else HEADERS
    quote = re.compile(f'[{re.escape(file.delimiter)}"\r\n]')

    def cell(text: str) -> str:
        return '"' + text.replace('"', '""') + '"' if quote.search(text) else text

    lines = [file.delimiter.join(headers)]
    for row_number, (written, first, last, org, position, gender) in enumerate(rows, start=2):
        padded = written
        if rng.random() < 0.1:
            padded = f"  {written} "  # stray spaces around the address
        if rng.random() < 0.05:
            first, last = first.upper(), last.upper()
        assert clean_text(padded) == padded.strip(), padded
        addresses.append((file.label, row_number, padded.strip()))
        fields = (first, last, padded, org, position, gender)
        lines.append(file.delimiter.join(cell(value) for value in fields))
    file.path.write_text("\r\n".join(lines) + "\r\n", encoding=file.encoding, newline="")


# A project to send to: write_project()

FIRST = ["Anna", "Jan", "Małgorzata", "Piotr", "Katarzyna", "Tomasz", "Ewa", "Łukasz", "Zofia"]
LAST = ["Nowak", "Kowalska", "Wiśniewski", "Wójcik", "Kamińska", "Żukowski", "Łapińska"]
POSITIONS = ["Wójt Gminy", "Dyrektor", "Prezes Zarządu", "Kierownik GOPS", "Specjalista", ""]


def write_project(
    root: Path, recipients: int, when: dt.date | None = None, deadline: dt.date | None = None
) -> Path:
    """A project folder with one contact list of ``recipients`` people and a campaign file.

    The event is the seminar of 7 September 2016, or moved to ``when`` (its registration
    deadline then ``deadline``, or none).
    """
    rng = random.Random(2016)
    (root / "contacts").mkdir(parents=True)
    (root / "campaigns").mkdir()
    shutil.copytree(REPO / "templates", root / "templates")
    with (root / "contacts" / "audience.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Imię", "Nazwisko", "E-mail", "Instytucja", "Stanowisko"])
        for number in range(recipients):
            writer.writerow(
                [
                    rng.choice(FIRST),
                    rng.choice(LAST),
                    f"osoba.{number}@gmina{number % 97}.example.pl",
                    f"Urząd Gminy nr {number % 97}",
                    rng.choice(POSITIONS),
                ]
            )
    campaign = (REPO / "campaigns" / "ekonomia-spoleczna-2016.yaml").read_text(encoding="utf-8")
    if when is not None:
        campaign = campaign.replace("2016-09-07", when.isoformat())
        closes = f'"{deadline.isoformat()}"' if deadline else "null"
        campaign = campaign.replace('"2016-09-02"', closes)
    head, _, rest = campaign.partition("audience:")
    _, _, tail = rest.partition("\nmessages:")
    audience = "audience:\n  sources:\n    - path: contacts/audience.csv\n      group: jst\n"
    path = root / "campaigns" / "bench.yaml"
    path.write_text(f"{head}{audience}\nmessages:{tail}", encoding="utf-8")
    return path


def seed_deliveries(url: str, campaign: str, kind: str, emails: Sequence[str]) -> list[str]:
    """Rows in the store at ``url`` as if ``kind`` of ``campaign`` had been sent to ``emails``
    (claimed and settled as sent, without a message): their delivery keys, in order."""
    run = f"seed-{uuid.uuid4().hex}"
    rows = [(email, "jst", f"<{run}.{n}@seed.example>") for n, email in enumerate(emails)]
    won: list[str] = []
    with Ledger(url) as ledger:
        for start in range(0, len(rows), 1000):  # a claim's IN lists stay small
            batch = [c.key for c in ledger.claim(campaign, kind, rows[start : start + 1000], run)]
            ledger.settle(run, [Outcome(key, SENT) for key in batch])
            won += batch
        ledger.beat(run, finished=True)
    keys = [delivery_key(campaign, kind, email) for email in emails]
    assert sorted(won) == sorted(keys), "some of these deliveries were already in the store"
    return keys


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> None:
    """An Excel workbook with these sheets (name → rows), in this order."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
