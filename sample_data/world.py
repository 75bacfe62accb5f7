"""The synthetic local authority: schools, providers, pupils and what happened to them.

`simulate(seed, pupils)` returns a `World` holding canonical records (the truth); the termly
writer (termly.py) then exports that truth in the messy shapes real files have. Every person,
school and provider is invented. The LA number 999 is not a real LA.

The stories follow the metrics (docs metrics.md): transfers between providers (other_ap then a
new placement), returns to mainstream that last and that break down within 182 days, permanent
exclusions met by AP on or before the sixth school day and some later, part-time timetables,
missing objectives and planned ends, lapsed reviews, open-ended placements still open at the
last export.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from .school_calendar import (BASELINE_TERM, DATA_END, DATA_START, EARLY_TERMS, SCHOOL_DAYS,
                              add_school_days, leaving_date, monday, nc_year, next_school_day,
                              prev_school_day, school_days_between)
from .upn import make_upn

LA_NUMBER = 999
LA_NAME = "Fernshire County Council"

# --- Reference data -------------------------------------------------------------------------


@dataclass(frozen=True)
class School:
    name: str
    urn: str
    trust: str | None  # None: LA-maintained
    dfe_number: int    # establishment number used in the pupils' UPNs
    phase: str         # primary / secondary


_TRUSTS = {
    "Fernvale Learning Trust": ["Ashbeck Academy", "Brinmoor Academy", "Caldwick High Academy",
                                "Dunmarsh Academy", "Eskerby Primary Academy",
                                "Fallowmere Primary Academy", "Gorsedale Academy", "Hartwick Academy"],
    "Northgate Academies Trust": ["Ivelstone Northgate Academy", "Kestermoor Academy",
                                  "Lindcombe Academy", "Marrowby Northgate Academy",
                                  "Netherwold Primary Academy", "Orrindale Primary Academy",
                                  "Pellbrook Academy"],
    "Oak and Ash Multi-Academy Trust": ["Quillmoor Oak Academy", "Ravensholt Academy",
                                        "Sallowfield Academy", "Tarnwick Ash Primary",
                                        "Ulverby Primary Academy"],
    "Riverbend Education Partnership": ["Vexley Riverside Academy", "Wenmore Academy",
                                        "Yarrowdene Primary Academy", "Ashbeck Meadows Primary"],
    None: ["Brinmoor Community School", "Caldwick Primary School", "St Aldwin's CE High School",
           "Dunmarsh Park School", "Eskerby Infant and Junior School", "Holy Wellbrook RC School"],
}


def _schools() -> list[School]:
    schools, n = [], 0
    for trust, names in _TRUSTS.items():
        for name in names:
            phase = "primary" if any(w in name for w in ("Primary", "Infant")) else "secondary"
            schools.append(School(name, f"{990201 + n}", trust, 4001 + 17 * n, phase))
            n += 1
    return schools


SCHOOLS = _schools()


@dataclass(frozen=True)
class Provider:
    name: str
    setting_type: str            # canonical value
    urn: str | None
    ukprn: str | None
    hours: tuple[float, ...]     # typical timetabled hours
    cost: tuple[int, int] | None  # weekly cost range, None when place-funded
    out_of_area: bool = False
    primary: bool = False        # takes primary-age pupils
    min_year: int = 1
    type_label: str = ""          # label used in label-style exports, when not the default


PROVIDERS = [
    Provider("Ashbeck Learning Centre", "state_ap_school", "990101", None, (25, 25, 27.5, 15), None,
             primary=True, type_label="Pupil referral unit"),
    Provider("Wrenford Park AP Academy", "state_ap_school", "990102", None, (25, 27.5), None,
             min_year=7, type_label="AP academy"),
    Provider("Thornfield AP Free School", "state_ap_school", "990103", None, (25, 20), None,
             min_year=7, type_label="AP free school"),
    Provider("Collingmere Hospital Education Service", "hospital", "990104", None, (10, 15, 20), None,
             primary=True),
    Provider("Hallowby House School", "independent_school", "990105", None, (27.5, 25), (1250, 1900),
             out_of_area=True, min_year=5),
    Provider("Stanmere Grange School", "independent_school", "990106", None, (25, 30), (1100, 1600),
             min_year=7),
    Provider("Brookvale Special School", "special_school", "990107", None, (30,), (900, 1300),
             primary=True),
    Provider("Fernshire College", "fe_college", None, "10099901", (15, 16, 20), (180, 320), min_year=10),
    Provider("Millbridge Skills Centre", "fe_college", None, None, (12, 15), (150, 260), min_year=10,
             type_label="Non-maintained further education college"),
    Provider("BrightPath Tuition", "one_to_one_tuition", None, None, (5, 6, 10, 12), (175, 450),
             primary=True),
    Provider("Kestrel Home Tuition Service", "one_to_one_tuition", None, None, (5, 10, 15), (200, 525),
             primary=True, type_label="Home tuition"),
    Provider("Lumen Online Academy", "online", None, None, (10, 15, 20), (120, 260), min_year=5),
    Provider("Openway Virtual School", "online", None, None, (12.5, 20), (140, 300), min_year=7,
             type_label="Virtual"),
    Provider("Ironside Motor Works Training", "work_based", None, None, (15, 20, 25), (200, 350),
             min_year=10),
    Provider("Oakleaf Farm Project CIC", "other_unregistered", None, None, (10, 15), (180, 300),
             min_year=3),
    Provider("Boxing Clever Community Gym", "other_unregistered", None, None, (6, 10), (120, 220),
             min_year=7),
    Provider("Riverside Re-engagement Hub", "other_unregistered", None, None, (25, 25, 20), (450, 700),
             min_year=8, type_label="Unregistered"),
    Provider("Greenwood Forest School CIC", "unknown", None, None, (5, 10), (90, 180), primary=True,
             type_label="Forest school"),
]
PROVIDER = {p.name: p for p in PROVIDERS}

# Which providers take which reasons (weights).
_AFFINITY = {
    "permanent_exclusion": {"Ashbeck Learning Centre": 45, "Wrenford Park AP Academy": 25,
                            "Thornfield AP Free School": 18, "Hallowby House School": 4,
                            "Riverside Re-engagement Hub": 5, "Kestrel Home Tuition Service": 3},
    "suspension": {"Ashbeck Learning Centre": 40, "Wrenford Park AP Academy": 25,
                   "Boxing Clever Community Gym": 15, "Riverside Re-engagement Hub": 20},
    "behaviour_support": {"Wrenford Park AP Academy": 20, "Thornfield AP Free School": 12,
                          "Boxing Clever Community Gym": 12, "Riverside Re-engagement Hub": 18,
                          "Oakleaf Farm Project CIC": 10, "Ironside Motor Works Training": 8,
                          "Greenwood Forest School CIC": 6, "BrightPath Tuition": 6,
                          "Fernshire College": 5, "Ashbeck Learning Centre": 8},
    "medical_physical": {"Collingmere Hospital Education Service": 55, "BrightPath Tuition": 15,
                         "Kestrel Home Tuition Service": 15, "Lumen Online Academy": 15},
    "medical_mental_health": {"Collingmere Hospital Education Service": 30,
                              "Kestrel Home Tuition Service": 20, "Lumen Online Academy": 18,
                              "Openway Virtual School": 14, "BrightPath Tuition": 10,
                              "Oakleaf Farm Project CIC": 8},
    "awaiting_school_place": {"BrightPath Tuition": 30, "Kestrel Home Tuition Service": 25,
                              "Lumen Online Academy": 20, "Ashbeck Learning Centre": 25},
    "awaiting_specialist_place": {"Hallowby House School": 25, "Stanmere Grange School": 20,
                                  "Brookvale Special School": 25, "Kestrel Home Tuition Service": 15,
                                  "Ashbeck Learning Centre": 15},
    "other": {"Fernshire College": 20, "Millbridge Skills Centre": 20,
              "Ironside Motor Works Training": 15, "Oakleaf Farm Project CIC": 10,
              "Openway Virtual School": 10, "Greenwood Forest School CIC": 10, "BrightPath Tuition": 15},
}
_REASON_WEIGHTS = {"permanent_exclusion": 22, "suspension": 8, "behaviour_support": 22,
                   "medical_physical": 6, "medical_mental_health": 15, "awaiting_school_place": 8,
                   "awaiting_specialist_place": 10, "other": 9}
# Typical length (calendar days) of each kind of placement: (low, high), log-uniform.
_DURATION = {"permanent_exclusion": (80, 620), "behaviour_support": (35, 160),
             "medical_physical": (25, 260), "medical_mental_health": (50, 480),
             "awaiting_school_place": (18, 130), "awaiting_specialist_place": (50, 380),
             "other": (28, 330)}
_DESTINATIONS = {  # weights of the destination on leaving (None = left blank)
    "permanent_exclusion": {"mainstream": 38, "other_ap": 15, "special": 10, "ehe": 5,
                            "moved_away": 5, "neet": 3, "other": 3, "unknown": 4, None: 8},
    "suspension": {"mainstream": 92, None: 8},
    "behaviour_support": {"mainstream": 55, "other_ap": 12, "special": 4, "ehe": 4,
                          "moved_away": 4, "other": 4, "unknown": 5, None: 10},
    "medical_physical": {"mainstream": 60, "other_ap": 8, "special": 6, "ehe": 8,
                         "moved_away": 4, "other": 4, None: 10},
    "medical_mental_health": {"mainstream": 45, "other_ap": 14, "special": 10, "ehe": 10,
                              "moved_away": 4, "other": 5, "unknown": 4, None: 8},
    "awaiting_school_place": {"mainstream": 82, "moved_away": 6, "other_ap": 4, None: 8},
    "awaiting_specialist_place": {"special": 72, "other_ap": 10, "mainstream": 6, None: 12},
    "other": {"mainstream": 40, "other_ap": 14, "ehe": 8, "neet": 6, "other": 10,
              "moved_away": 4, "unknown": 6, None: 12},
}
EXCLUSION_REASONS = {"DB": 34, "VA": 14, "PA": 10, "PP": 10, "VP": 8, "DM": 5, "DA": 4, "OW": 3,
                     "BU": 3, "MT": 2, "RA": 2, "SM": 1, "TH": 1, "LG": 1, "DS": 1}
ETHNICITIES = {"WBRI": 58, "WOTH": 5, "WIRT": 1, "WROM": 2, "MWBC": 5, "MWBA": 2, "MWAS": 1,
               "MOTH": 3, "AIND": 2, "APKN": 4, "ABAN": 1, "AOTH": 1, "BCRB": 4, "BAFR": 3,
               "BOTH": 1, "CHNE": 1, "OOTH": 2, "REFU": 1, "NOBT": 3}
_OBJECTIVES_BY_REASON = {
    "permanent_exclusion": (0, 1, 2, 7, 8), "suspension": (0, 2), "behaviour_support": (0, 2, 3, 7),
    "medical_physical": (4, 9, 3), "medical_mental_health": (3, 4, 7, 9),
    "awaiting_school_place": (1, 5), "awaiting_specialist_place": (6, 3, 7), "other": (5, 8, 1, 3)}
_OBJECTIVES = [
    "Attendance above 85% each half term; reintegrate to home school",
    "Re-engage with learning; GCSE English and maths entries",
    "Reduce incidents of dysregulation; agreed return plan by end of term",
    "Gradual increase in hours towards a full-time timetable",
    "Keep up with core subjects while medically unfit for school",
    "Complete functional skills level 1 English and maths",
    "Transition to specialist placement named in EHCP",
    "Build trusted relationships; weekly mentoring; reduce exclusions",
    "Level 1 vocational qualification and post-16 application",
    "Maintain education during admission; liaise with home school on return",
]

FIRST_NAMES_M = ["Oliver", "Harry", "Jack", "Charlie", "Leo", "Alfie", "Noah", "Freddie", "Mason",
                 "Tyler", "Kai", "Riley", "Jayden", "Callum", "Kieran", "Ethan", "Reece", "Logan",
                 "Mohammed", "Ibrahim", "Adam", "Yusuf", "Kacper", "Jakub", "Oisín", "Seán", "Tomás",
                 "Dylan", "Lewis", "Connor", "Bradley", "Finley", "Harvey", "Ayaan", "Kwame", "Tayo",
                 "Rhys", "Caden", "Zach", "Jordan"]
FIRST_NAMES_F = ["Olivia", "Amelia", "Isla", "Ava", "Mia", "Lily", "Grace", "Ruby", "Ellie",
                 "Chloé", "Zoë", "Siân", "Aoife", "Niamh", "Renée", "Maisie", "Freya", "Paige",
                 "Amira", "Aisha", "Zara", "Maja", "Zuzanna", "Jade", "Kayla", "Leah", "Skye",
                 "Tia", "Demi", "Imani"]
LAST_NAMES = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
              "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green",
              "Hall", "Wood", "Jackson", "Clarke", "Patel", "Khan", "Hussain", "Ali", "Begum",
              "Kowalski", "Nowak", "O'Brien", "O'Connor", "Murphy", "Núñez", "Okafor", "Mensah",
              "Campbell", "Reid", "Hughes", "Price", "Lloyd", "Marsh", "Fletcher", "Booth",
              "Pearson", "Holt", "Brennan", "Lovell", "Nwosu", "Da Silva", "Ahmed", "Shaw", "Mills"]


# --- Records ---------------------------------------------------------------------------------


@dataclass
class Pupil:
    upn: str
    first_name: str
    last_name: str
    sex: str
    date_of_birth: date
    ethnicity: str
    sen_status: str
    cla: bool
    fsm: bool
    school: School
    baseline_rate: float  # attendance rate at the home school


@dataclass
class Placement:
    pupil: Pupil
    provider: Provider
    reason: str
    commissioner: str
    start_date: date
    planned_end_date: date | None
    end_date: date | None            # None: open at the last export (and after it)
    hours_per_week: float
    objectives: str | None
    review_dates: list[date]
    destination: str | None          # canonical value; None = left blank on the export
    cost_per_week: float | None
    during_rate: float
    extends_planned_end: bool = False  # planned end is moved on at reviews
    concurrent: bool = False           # a top-up placement alongside another

    @property
    def sessions_per_week(self) -> int:
        return max(1, min(10, round(self.hours_per_week / 2.5)))

    @property
    def nc_year(self) -> int:
        return nc_year(self.pupil.date_of_birth, self.start_date)

    def planned_end_as_at(self, export: date) -> date | None:
        """The planned end shown on an export: moved on by 12 weeks at a time when it was extended."""
        pe = self.planned_end_date
        if pe is None or not self.extends_planned_end:
            return pe
        stop = min(self.end_date or export, export)
        while pe < stop:
            pe = pe + timedelta(days=84)
        return pe


@dataclass
class Exclusion:
    pupil: Pupil
    category: str        # suspension / permanent / lunchtime
    start_date: date
    sessions: float | None
    reason: str          # DfE code
    school: School


@dataclass
class Attendance:
    pupil: Pupil
    period_start: date   # Monday
    period_end: date     # Friday
    possible: int
    attended: int
    setting: str
    marks: list[tuple[date, str, str]] | None = None  # (date, AM, PM) for the register-marks file


@dataclass
class Assessment:
    pupil: Pupil
    measure: str
    date: date
    value: float
    higher_is_better: bool


@dataclass
class World:
    seed: int
    pupils: list[Pupil] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)
    exclusions: list[Exclusion] = field(default_factory=list)
    attendance: list[Attendance] = field(default_factory=list)
    assessments: list[Assessment] = field(default_factory=list)


# --- Simulation ------------------------------------------------------------------------------


class _Sim:
    def __init__(self, seed: int, n_pupils: int):
        self.rng = np.random.default_rng(seed)
        self.world = World(seed)
        self.n_pupils = n_pupils
        self.serial = 0
        self.assessment_keys: dict = {}
        self.event_days = [d for d in SCHOOL_DAYS if EARLY_TERMS[0].start <= d <= DATA_END]

    # small helpers
    def pick(self, weights: dict):
        keys = list(weights)
        cum = np.cumsum([weights[k] for k in keys], dtype=float)
        return keys[min(int(np.searchsorted(cum, self.rng.random() * cum[-1], side="right")), len(keys) - 1)]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def uniform(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def randint(self, lo: int, hi: int) -> int:  # inclusive
        return int(self.rng.integers(lo, hi + 1))

    def loguniform(self, lo: float, hi: float) -> float:
        return float(np.exp(self.rng.uniform(np.log(lo), np.log(hi))))

    # pupils
    def make_pupil(self, first_event: date) -> Pupil:
        year = self.pick({1: 1, 2: 1, 3: 1.5, 4: 2, 5: 2.5, 6: 3, 7: 8, 8: 13, 9: 20, 10: 25, 11: 18})
        start_year = first_event.year if first_event.month >= 9 else first_event.year - 1
        # age on 31 August before the academic year is year + 4
        born_from = date(start_year - year - 5, 9, 1)
        dob = born_from + timedelta(days=self.randint(0, 364))
        school = self._pick_school(year)
        sex = self.pick({"M": 67, "F": 32, "U": 1})
        first = (FIRST_NAMES_M if sex == "M" else FIRST_NAMES_F if sex == "F"
                 else FIRST_NAMES_M + FIRST_NAMES_F)
        self.serial += 1
        issued = dob.year + 5
        upn = make_upn(LA_NUMBER, school.dfe_number, issued, self.serial % 1000)
        return Pupil(
            upn=upn, first_name=first[self.randint(0, len(first) - 1)],
            last_name=LAST_NAMES[self.randint(0, len(LAST_NAMES) - 1)], sex=sex, date_of_birth=dob,
            ethnicity=self.pick(ETHNICITIES), sen_status=self.pick({"E": 22, "K": 45, "N": 33}),
            cla=self.chance(0.09), fsm=self.chance(0.56), school=school,
            baseline_rate=float(np.clip(self.rng.normal(0.74, 0.16), 0.15, 0.99)))

    def _pick_school(self, year: int) -> School:
        phase = "primary" if year <= 6 else "secondary"
        options = [s for s in SCHOOLS if s.phase == phase]
        return options[self.randint(0, len(options) - 1)]

    def choose_provider(self, reason: str, pupil: Pupil, on: date, avoid: Provider | None) -> Provider:
        year = nc_year(pupil.date_of_birth, on)
        weights = {}
        for name, w in _AFFINITY[reason].items():
            p = PROVIDER[name]
            if p is avoid or (year <= 6 and not p.primary) or year < p.min_year:
                continue
            weights[name] = w
        if year >= 10 and reason in ("permanent_exclusion", "behaviour_support", "other"):
            weights.update({"Fernshire College": 6, "Ironside Motor Works Training": 6})
        if avoid is not None:
            weights.pop(avoid.name, None)
        if not weights:
            weights = {p.name: 1 for p in PROVIDERS
                       if p is not avoid and (p.primary or year > 6) and year >= p.min_year}
        return PROVIDER[self.pick(weights)]

    # exclusions
    def exclude(self, pupil: Pupil, category: str, on: date, sessions: float | None) -> None:
        taken = {(e.start_date, e.category) for e in self.world.exclusions if e.pupil is pupil}
        while (on, category) in taken:
            if on >= SCHOOL_DAYS[-1]:
                return
            on = add_school_days(on, 1)
        self.world.exclusions.append(Exclusion(pupil, category, on, sessions,
                                               self.pick(EXCLUSION_REASONS), pupil.school))

    def prior_suspensions(self, pupil: Pupil, before: date, n: int) -> None:
        for _ in range(n):
            d = add_school_days(before, -self.randint(8, 110))
            if d < FIRST_EVENT:
                continue
            self.exclude(pupil, "suspension", d, float(self.pick({1: 1, 2: 5, 4: 4, 6: 2, 10: 1})))

    # placements
    def place(self, pupil: Pupil, reason: str, start: date, leave: date, prev: Provider | None,
              commissioner: str | None = None, length_days: float | None = None) -> Placement | None:
        if start >= leave:
            return None  # past the end of Year 11
        provider = self.choose_provider(reason, pupil, start, prev)
        if commissioner is None:
            commissioner = {"suspension": "school", "behaviour_support": "school"}.get(reason, "la")
            if reason == "other" or (commissioner == "school" and self.chance(0.1)):
                commissioner = "school" if self.chance(0.5) else "la"
            elif commissioner == "la" and reason.startswith("medical") and self.chance(0.15):
                commissioner = "school"
        open_ended = length_days is None and self.chance(0.07)
        if length_days is None:
            lo, hi = _DURATION[reason]
            length_days = self.loguniform(lo, hi)
        length_days = min(length_days, 730)
        raw_end = start + timedelta(days=int(length_days))
        end: date | None = max(prev_school_day(raw_end), start) if raw_end <= DATA_END else None
        destination = self.pick(_DESTINATIONS[reason])
        if open_ended:
            end = None
        if end is not None and end > leave or end is None and leave <= DATA_END:
            end = max(leave, start)
            destination = self.pick({"post16": 70, "neet": 14, None: 16})
        if end is not None and end > DATA_END:
            end = None
        if end is None:
            destination = None
        # planned end
        if open_ended or self.chance(0.18):
            planned = None
        else:
            span = length_days * self.uniform(0.55, 1.25)
            if self.chance(0.5):  # a standard review period, set at the start, whatever happens
                span = float(self.pick({42: 2, 84: 3, 126: 2, 182: 1}))
            planned = prev_school_day(start + timedelta(days=max(10, int(span))))
        hours = float(provider.hours[self.randint(0, len(provider.hours) - 1)])
        if provider.setting_type == "state_ap_school" and self.chance(0.12):
            hours = float(self.pick({10: 1, 12.5: 2, 15: 2, 20: 1}))  # a part-time timetable
        cost = None
        if provider.cost:
            lo, hi = provider.cost
            cost = round(self.uniform(lo, hi) / 5) * 5.0
            if provider.setting_type == "one_to_one_tuition":
                cost = round(hours * self.uniform(32, 42) / 5) * 5.0
        objectives = None if self.chance(0.3 if reason == "suspension" else 0.14) else \
            _OBJECTIVES[self.pick({i: 1 for i in _OBJECTIVES_BY_REASON[reason]})]
        reviews = self.reviews(start, end)
        during = float(np.clip(pupil.baseline_rate + self.rng.normal(0.04, 0.14), 0.05, 1.0))
        if self.chance(0.14):
            during = self.uniform(0.15, 0.45)  # poor attendance at the placement
        p = Placement(pupil, provider, reason, commissioner, start, planned, end, hours, objectives,
                      reviews, destination, cost, during,
                      extends_planned_end=planned is not None and self.chance(0.25))
        self.world.placements.append(p)
        return p

    def reviews(self, start: date, end: date | None) -> list[date]:
        style = self.pick({"regular": 60, "lapsed": 25, "never": 15})
        if style == "never":
            return []
        stop = end or DATA_END
        out, d, n = [], start, 0
        limit = self.randint(1, 3) if style == "lapsed" else 10_000
        while n < limit:
            d = d + timedelta(days=self.randint(28, 45))
            if d > stop or d > DATA_END:
                break
            d = next_school_day(d)
            out.append(d)
            n += 1
        return out

    def pupil_story(self, first_event: date) -> None:
        pupil = self.make_pupil(first_event)
        self.world.pupils.append(pupil)
        leave = leaving_date(pupil.date_of_birth)
        if self.chance(0.2):  # suspensions only: never placed in AP
            self.suspensions_only(pupil, first_event, leave)
            return
        reason = self.pick(_REASON_WEIGHTS)
        if nc_year(pupil.date_of_birth, first_event) <= 6 and reason == "suspension":
            reason = "behaviour_support"
        t, prev, first = first_event, None, True
        while t <= DATA_END and t < leave:
            if reason == "permanent_exclusion":
                pex = self.pex_date(t)
                if pex is None or pex >= leave:
                    break
                if first and self.chance(0.7):
                    self.prior_suspensions(pupil, pex, self.randint(1, 4))
                self.exclude(pupil, "permanent", pex, None)
                day = self.pick({2: 4, 3: 8, 4: 10, 5: 14, 6: 40, 7: 6, 8: 5, 10: 5, 12: 3, 15: 3, 22: 2})
                if self.chance(0.03):
                    break  # family moved away before any provision started
                start = add_school_days(pex, day - 1)
                placement = self.place(pupil, reason, start, leave, prev, "la")
            elif reason == "suspension":
                days = self.randint(6, 15)
                s = next_school_day(t)
                if s != t:
                    s = add_school_days(s, self.randint(0, 25))
                self.exclude(pupil, "suspension", s, float(days * 2))
                start, end = add_school_days(s, 5), add_school_days(s, days - 1)
                placement = self.place(pupil, reason, start, leave, prev, "school",
                                       length_days=(end - start).days)
            else:
                if first and reason == "behaviour_support" and self.chance(0.55):
                    self.prior_suspensions(pupil, next_school_day(t), self.randint(1, 3))
                start = next_school_day(t)
                placement = self.place(pupil, reason, start, leave, prev)
            if placement is None:
                break
            if placement.hours_per_week < 20 and placement.end_date != placement.start_date \
                    and self.chance(0.08):
                self.top_up(placement, leave)
            first = False
            if placement.end_date is None or placement.end_date >= leave:
                break
            dest, prev = placement.destination, placement.provider
            if dest == "other_ap":
                t = add_school_days(placement.end_date, self.randint(1, 3))
                if self.chance(0.3):
                    reason = self.pick({"behaviour_support": 2, "other": 1, "medical_mental_health": 1})
                if reason == "suspension":
                    reason = "behaviour_support"
            elif dest == "mainstream":
                if self.chance(0.3):  # the return breaks down within 182 days
                    t = placement.end_date + timedelta(days=self.randint(15, 165))
                    reason = self.pick({"permanent_exclusion": 4, "behaviour_support": 3,
                                        "suspension": 2, "other": 1})
                elif self.chance(0.1):  # a fresh episode long after a sustained return
                    t = placement.end_date + timedelta(days=self.randint(200, 400))
                    reason = self.pick({"behaviour_support": 2, "medical_mental_health": 1})
                else:
                    if self.chance(0.25):
                        self.exclude(pupil, "suspension",
                                     add_school_days(placement.end_date, self.randint(10, 120)), 2.0)
                    break
                prev = None
            else:
                break
        if self.chance(0.08):
            for _ in range(self.randint(1, 3)):
                self.exclude(pupil, "lunchtime", self.random_day(FIRST_EVENT, DATA_END), None)

    def top_up(self, main: Placement, leave: date) -> None:
        """A second, part-time placement alongside a part-time one (overlapping days)."""
        start = add_school_days(main.start_date, self.randint(0, 8))
        if main.end_date is not None and start >= main.end_date:
            return
        length = self.uniform(20, 90)
        p = self.place(main.pupil, main.reason if main.reason != "suspension" else "other", start,
                       leave, main.provider, main.commissioner, length_days=length)
        if p is None:
            return
        if main.end_date is not None and (p.end_date is None or p.end_date >= main.end_date):
            p.end_date, p.destination = main.end_date, main.destination
        elif p.end_date is not None and p.destination not in (None, "post16", "neet"):
            p.destination = "other_ap"
        p.concurrent = True

    def suspensions_only(self, pupil: Pupil, first_event: date, leave: date) -> None:
        n = self.pick({1: 35, 2: 25, 3: 18, 4: 12, 6: 10})
        d = first_event
        for _ in range(n):
            if d > DATA_END or d >= leave:
                break
            on = add_school_days(next_school_day(d), self.randint(0, 25) if next_school_day(d) != d else 0)
            self.exclude(pupil, "suspension", on, float(self.pick({1: 2, 2: 8, 4: 6, 6: 3, 10: 1})))
            d = d + timedelta(days=self.randint(10, 200))
        if self.chance(0.3):
            self.exclude(pupil, "lunchtime", self.random_day(FIRST_EVENT, DATA_END), None)

    def pex_date(self, t: date) -> date | None:
        """A school day on or after t whose next ten weekdays are all school days (so the sixth
        school day is the same with or without a holiday calendar)."""
        d = next_school_day(t)
        for _ in range(80):
            if d > DATA_END:
                return None
            weekdays = [d + timedelta(days=k) for k in range(16) if (d + timedelta(days=k)).weekday() < 5][:10]
            if all(w in _SCHOOL_DAY_SET for w in weekdays):
                return d
            d = add_school_days(d, 1)
        return None

    def random_day(self, lo: date, hi: date) -> date:
        days = school_days_between(lo, hi)
        return days[self.randint(0, len(days) - 1)]

    # attendance and assessments
    def attendance(self) -> None:
        by_pupil: dict[int, list[Placement]] = {}
        for p in self.world.placements:
            by_pupil.setdefault(id(p.pupil), []).append(p)
        pex: dict[int, list[date]] = {}
        for e in self.world.exclusions:
            if e.category == "permanent":
                pex.setdefault(id(e.pupil), []).append(e.start_date)
        for pupil in self.world.pupils:
            placements = sorted(by_pupil.get(id(pupil), []), key=lambda p: (p.start_date, p.concurrent))
            if placements:
                self.pupil_attendance(pupil, placements, sorted(pex.get(id(pupil), [])))

    def pupil_attendance(self, pupil: Pupil, placements: list[Placement], pex_dates: list[date]) -> None:
        first = placements[0].start_date
        last = placements[-1]
        begin = max(BASELINE_TERM.start, first - timedelta(weeks=self.randint(15, 22)))
        if any(p.end_date is None for p in placements):
            stop = DATA_END
        else:
            stop = max(p.end_date for p in placements)
            if last.destination == "mainstream":
                stop = stop + timedelta(weeks=30)
        stop = min(stop, DATA_END, leaving_date(pupil.date_of_birth))
        main = [p for p in placements if not p.concurrent]
        far = date.max
        post_rate = _clip(pupil.baseline_rate + float(self.rng.normal(0.05, 0.1)), 0.2, 1.0)
        week_rows: dict[tuple[date, str], list] = {}
        for d in school_days_between(begin, stop):
            here, earlier = None, None
            for p in main:
                if p.start_date <= d <= (p.end_date or far):
                    here = p
                    break
                if p.end_date is not None and p.end_date < d:
                    earlier = p
            if here is not None:
                setting, rate = here.provider.name, here.during_rate
                frac = min(1.0, here.sessions_per_week / 10)
            else:
                if earlier is not None and earlier.destination != "mainstream":
                    continue  # left to a special school, home education, another area...
                setting, frac = pupil.school.name, 1.0
                rate = post_rate if earlier is not None else pupil.baseline_rate
                if earlier is None and pex_dates and pex_dates[0] <= d:
                    rate = 0.0  # excluded, no provision yet: marked E
            row = week_rows.setdefault((_MONDAY[d], setting), [0.0, rate])
            row[0] += 2 * frac
        noise = self.rng.normal(0, 0.08, size=len(week_rows))
        for k, ((mon, setting), (possible, rate)) in enumerate(sorted(week_rows.items(), key=lambda kv: kv[0][0])):
            possible = max(1, int(round(possible)))
            r = _clip(rate + float(noise[k]), 0.0, 1.0) if rate > 0 else 0.0
            attended = int(self.rng.binomial(possible, r))
            self.world.attendance.append(Attendance(pupil, mon, mon + timedelta(days=4), possible,
                                                    attended, setting))

    def register_marks(self, weeks: tuple[date, ...], n_pupils: int = 5) -> None:
        """AM/PM marks for a few pupils at a full-time placement over a few weeks; the weekly
        counts are then worked out from the marks (data-spec §2), as the importer will."""
        by_key = {(id(a.pupil), a.period_start): a for a in self.world.attendance}
        candidates = []
        for p in self.world.placements:
            if p.concurrent or p.hours_per_week < 25 or p.provider.setting_type != "state_ap_school":
                continue
            rows = [by_key.get((id(p.pupil), w)) for w in weeks]
            if all(r is not None and r.setting == p.provider.name for r in rows) and \
                    p.start_date < weeks[0] and (p.end_date is None or p.end_date > weeks[-1] + timedelta(days=4)):
                candidates.append((p, rows))
        candidates.sort(key=lambda c: c[0].pupil.upn)
        for p, rows in candidates[:n_pupils]:
            low = p.during_rate < 0.5
            for row in rows:
                marks = []
                for d in school_days_between(row.period_start, row.period_end):
                    am_pm = []
                    for session in ("/", "\\"):
                        r = self.rng.random()
                        if d == date(2025, 6, 13):
                            am_pm.append("#")  # INSET day: planned closure, not a possible session
                        elif r < (0.45 if low else 0.86):
                            am_pm.append(session if self.rng.random() < 0.93 else "L")
                        elif r < (0.47 if low else 0.88):
                            am_pm.append("B")
                        else:
                            am_pm.append(self.pick({"I": 3, "O": 3, "N": 2, "M": 1, "U": 1, "G": 1}))
                    marks.append((d, am_pm[0], am_pm[1]))
                flat = [m for _, am, pm in marks for m in (am, pm)]
                row.possible = sum(m not in ("#", "") for m in flat)
                row.attended = sum(m in ("/", "\\", "L", "K", "V", "P", "W", "B") for m in flat)
                row.marks = marks

    def assessments(self) -> None:
        for p in self.world.placements:
            if p.concurrent or p.reason == "suspension" or not self.chance(0.78):
                continue
            stop = min(p.end_date or DATA_END, DATA_END)
            if (stop - p.start_date).days < 28:
                continue
            base_day = prev_school_day(p.start_date - timedelta(days=self.randint(0, 20)))
            age_months = (base_day - p.pupil.date_of_birth).days / 30.44
            reading = round(age_months - self.uniform(6, 60))
            sdq = self.randint(12, 32)
            with_sdq = self.chance(0.65)
            self.add_assessment(p.pupil, "Reading age", base_day, reading, True)
            if with_sdq:
                self.add_assessment(p.pupil, "SDQ total", base_day, sdq, False)
            d = p.start_date
            while True:
                d = d + timedelta(days=self.randint(60, 100))
                if d > stop:
                    break
                d = next_school_day(d)
                reading += round(self.rng.normal(3.5, 3))
                self.add_assessment(p.pupil, "Reading age", d, reading, True)
                if with_sdq:
                    sdq = int(np.clip(sdq + round(self.rng.normal(-1.5, 2.5)), 0, 40))
                    self.add_assessment(p.pupil, "SDQ total", d, sdq, False)

    def add_assessment(self, pupil: Pupil, measure: str, d: date, value: float, hib: bool) -> None:
        key = (id(pupil), measure, d)  # one value per pupil, measure and date (the key)
        if key in self.assessment_keys:
            self.assessment_keys[key].value = float(value)
            return
        a = Assessment(pupil, measure, d, float(value), hib)
        self.assessment_keys[key] = a
        self.world.assessments.append(a)


_SCHOOL_DAY_SET = frozenset(SCHOOL_DAYS)
_MONDAY = {d: monday(d) for d in SCHOOL_DAYS}


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x
FIRST_EVENT = EARLY_TERMS[0].start
REGISTER_WEEKS = (date(2025, 6, 2), date(2025, 6, 9), date(2025, 6, 16), date(2025, 6, 23))


def simulate(seed: int = 2025, pupils: int = 600) -> World:
    """The whole synthetic LA, canonical values only. Same seed, same world."""
    sim = _Sim(seed, pupils)
    days = sim.event_days
    # first events: spread over the three years (a few in 2021/22 so the first export has
    # placements that started before it)
    for _ in range(pupils):
        sim.pupil_story(days[sim.randint(0, len(days) - 1)])
    world = sim.world
    # keep what the exports can show: placements open at some point from the first export
    world.placements = [p for p in world.placements
                        if p.end_date is None or p.end_date >= DATA_START]
    world.exclusions = [e for e in world.exclusions if DATA_START <= e.start_date <= DATA_END]
    world.placements.sort(key=lambda p: (p.start_date, p.pupil.upn, p.provider.name))
    world.exclusions.sort(key=lambda e: (e.start_date, e.pupil.upn, e.category))
    sim.attendance()
    sim.register_marks(REGISTER_WEEKS)
    sim.assessments()
    world.assessments.sort(key=lambda a: (a.date, a.pupil.upn, a.measure))
    used = {id(p.pupil) for p in world.placements} | {id(e.pupil) for e in world.exclusions}
    world.pupils = [p for p in world.pupils if id(p) in used]
    return world
