"""Code and label tables that map what files say onto the canonical vocabularies.

Keys are compared after :func:`vocab_key` (lower case, letters and digits only), so
"Pupil Referral Unit", "pupil-referral unit" and "PUPIL REFERRAL UNIT" are one key.

>>> vocab_key("Medical condition (mental health need)")
'medicalconditionmentalhealthneed'
"""
from __future__ import annotations

import re

_NOT_ALNUM = re.compile(r"[\W_]+", re.UNICODE)


def vocab_key(text: str) -> str:
    """The comparison key of a code or label (same rule as the SQL side)."""
    return _NOT_ALNUM.sub("", text.lower())


def _table(groups: dict[str, tuple[str, ...]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for canonical, labels in groups.items():
        for label in (canonical, *labels):
            out[vocab_key(label)] = canonical
    return out


SETTING_TYPE = _table({
    "state_ap_school": ("PRU", "pupil referral unit", "AP academy", "AP free school",
                        "alternative provision academy", "alternative provision free school",
                        "state AP school", "state-funded AP school"),
    "independent_school": ("independent school", "independent", "INS"),
    "special_school": ("special school", "special", "non-maintained special school"),
    "fe_college": ("NFE", "FE college", "non-maintained further education college",
                   "further education college", "college", "FEC"),
    "one_to_one_tuition": ("OOT", "one on one tuition", "one to one tuition", "1:1 tuition",
                           "home tuition", "tuition", "ONE"),
    "online": ("online", "virtual", "online provider", "ONL"),
    "work_based": ("WBP", "work based placement", "work-based placement", "work placement"),
    "hospital": ("hospital", "hospital school", "HOS"),
    "other_unregistered": ("OTH", "other unregistered provider", "unregistered",
                           "unregistered provider", "UNR"),
    "unknown": ("unknown", "not known"),
})

REASON = _table({
    "permanent_exclusion": ("PEX", "permanent exclusion", "permanently excluded",
                            "permanent exclusion (where still going through the review process)"),
    "suspension": ("SUS", "suspension", "suspended", "fixed term exclusion",
                   "fixed period exclusion"),
    "behaviour_support": ("BEH", "off-site placement for behavioural support", "behaviour",
                          "behavioural support", "behaviour support", "off-site direction"),
    "medical_physical": ("medical condition (physical health need)", "medical", "physical health",
                         "medical physical", "PHY", "MED"),
    "medical_mental_health": ("medical condition (mental health need)", "mental health", "SEMH",
                              "MEN", "emotionally based school avoidance", "EBSA"),
    "awaiting_school_place": ("awaiting school place", "in-year admission", "in year admission",
                              "awaiting a school place"),
    "awaiting_specialist_place": ("awaiting special school", "awaiting specialist placement",
                                  "awaiting EHCP", "awaiting specialist place",
                                  "awaiting special school place"),
    "other": ("other",),
})

DESTINATION = _table({
    "mainstream": ("returned to home school", "other mainstream school", "mainstream",
                   "reintegrated", "mainstream school", "returned to school", "reintegration"),
    "special": ("special school", "specialist provision", "special"),
    "other_ap": ("another AP", "transferred", "other AP", "another alternative provision"),
    "post16": ("FE", "college", "apprenticeship", "training", "employment", "post-16",
               "post 16", "further education", "sixth form", "FE college", "further education college",
               "sixth form college"),
    "neet": ("NEET",),
    "ehe": ("elective home education", "EHE", "home educated"),
    "moved_away": ("moved out of area", "left LA", "moved away", "left the LA"),
    "other": ("other",),
    "unknown": ("unknown", "not known"),
})

COMMISSIONER = _table({
    "school": ("school", "sch", "school commissioned", "academy", "trust", "MAT"),
    "la": ("LA", "local authority", "council", "LA commissioned"),
})

SEN_STATUS = _table({
    "E": ("EHCP", "EHC plan", "education, health and care plan", "education health and care plan",
          "statement", "S"),
    "K": ("SEN support", "SEN without an EHC plan", "support"),
    "N": ("No SEN", "none", "no", "no SEN provision", "no special educational needs"),
})

SEX = _table({
    "M": ("male", "boy", "boys", "man"),
    "F": ("female", "girl", "girls", "woman"),
    "U": ("unknown", "not known", "other", "not stated", "prefer not to say"),
})

EXCLUSION_CATEGORY = _table({
    "suspension": ("FIXD", "fixed period", "fixed period exclusion", "fixed term",
                   "fixed term exclusion", "suspension", "suspended", "fixed"),
    "permanent": ("PERM", "permanent", "permanent exclusion", "permanently excluded"),
    "lunchtime": ("LNCH", "lunchtime", "lunchtime exclusion", "lunch time exclusion", "lunch"),
})

EXCLUSION_REASON = _table({
    "PP": ("physical assault against a pupil",),
    "PA": ("physical assault against an adult",),
    "VP": ("verbal abuse / threatening behaviour against a pupil",
           "verbal abuse or threatening behaviour against a pupil"),
    "VA": ("verbal abuse / threatening behaviour against an adult",
           "verbal abuse or threatening behaviour against an adult"),
    "OW": ("use or threat of use of an offensive weapon or prohibited item",),
    "BU": ("bullying",),
    "RA": ("racist abuse",),
    "LG": ("abuse against sexual orientation and gender identity",),
    "DS": ("abuse relating to disability",),
    "SM": ("sexual misconduct",),
    "DA": ("drug and alcohol related",),
    "DM": ("damage to property", "damage"),
    "TH": ("theft",),
    "MT": ("inappropriate use of social media or online technology",),
    "DB": ("persistent or general disruptive behaviour", "persistent disruptive behaviour"),
    "PH": ("wilful and repeated transgression of protective measures in place to protect "
           "public health",),
    "OT": ("other",),
})

_W, _M, _A, _B, _O, _U = ("White", "Mixed / Multiple ethnic groups", "Asian / Asian British",
                          "Black / African / Caribbean / Black British", "Other ethnic group",
                          "Unknown")
ETHNICITY_GROUP = _table({
    _W: ("WBRI", "WIRI", "WIRT", "WROM", "WOTH", "WSCO", "WENG", "WWEL", "WCOR", "WOTW",
         "WALB", "WBOS", "WCRO", "WGRE", "WGRK", "WGRC", "WITA", "WKOS", "WPOR", "WSER", "WTUR",
         "WTUK", "WTUC", "WEUR", "WEEU", "WWEU", "WOTA", "WPOL", "WROG", "WROR", "WROO",
         "White", "White British", "English/Welsh/Scottish/Northern Irish/British",
         "White - English/Welsh/Scottish/Northern Irish/British", "White - White British",
         "Irish", "White Irish", "White - Irish", "Traveller of Irish heritage",
         "White - Traveller of Irish heritage", "Irish Traveller", "Gypsy/Roma", "Gypsy / Roma",
         "White - Gypsy/Roma", "White - Gypsy / Roma", "Gypsy or Irish Traveller", "Roma",
         "Any other White background", "White - Any other White background", "Other White",
         "White other", "White - Other"),
    _M: ("MWBC", "MWBA", "MWAS", "MOTH", "MWAP", "MWAI", "MWAO", "MAOE", "MABL", "MACH",
         "MBOE", "MCOE", "MWOE", "MOTM",
         "Mixed", "Mixed / Multiple ethnic groups", "Mixed/Multiple ethnic groups",
         "White and Black Caribbean", "Mixed - White and Black Caribbean",
         "White and Black African", "Mixed - White and Black African", "White and Asian",
         "Mixed - White and Asian", "Any other Mixed background",
         "Mixed - Any other Mixed background", "Any other mixed/multiple ethnic background",
         "Mixed - Any other mixed/multiple ethnic background", "Other Mixed", "Mixed other",
         "Mixed dual background"),
    _A: ("AIND", "APKN", "ABAN", "AOTH", "CHNE", "AABR", "AAWE", "AMPK", "AKPA", "AOPK", "ABAN",
         "ASLT", "ATAM", "ASNL", "AOTA", "AAFR", "AKAO", "ANEP", "AOTB",
         "Asian", "Asian / Asian British", "Asian or Asian British", "Indian",
         "Asian - Indian", "Asian or Asian British - Indian", "Pakistani", "Asian - Pakistani",
         "Asian or Asian British - Pakistani", "Bangladeshi", "Asian - Bangladeshi",
         "Asian or Asian British - Bangladeshi", "Chinese", "Asian - Chinese",
         "Chinese - Chinese", "Any other Asian background", "Asian - Any other Asian background",
         "Asian or Asian British - Any other Asian background", "Other Asian", "Asian other",
         "Asian British", "Asian Welsh"),
    _B: ("BCRB", "BAFR", "BOTH", "BBRI", "BBWE", "BAOF", "BANN", "BCON", "BGHA", "BNGN",
         "BSLN", "BSOM", "BSUD", "BEUR", "BNAM", "BOTB",
         "Black", "Black / African / Caribbean / Black British",
         "Black/African/Caribbean/Black British", "Black or Black British", "Caribbean",
         "Black - Caribbean", "Black or Black British - Caribbean", "Black Caribbean", "African",
         "Black - African", "Black or Black British - African", "Black African",
         # the AP census file's labels (dfe-codes.md §4.5)
         "Black - Black Caribbean", "Black - Black African",
         "Any other Black background", "Black - Any other Black background",
         "Any other Black/African/Caribbean background",
         "Black - Any other Black/African/Caribbean background",
         "Black or Black British - Any other Black background", "Other Black", "Black other",
         "Black British", "Black Welsh"),
    _O: ("OOTH", "OAFG", "OARA", "OEGY", "OFIL", "OIRN", "OIRQ", "OJPN", "OKOR", "OKRD",
         "OLAM", "OLEB", "OLIB", "OMAL", "OMRC", "OPOL", "OTHR", "OVIE", "OYEM", "OOEG",
         "Other", "Other ethnic group", "Any other ethnic group", "Other - Any other ethnic group",
         "Arab", "Other - Arab", "Other ethnic group - Arab",
         "Other ethnic group - Any other ethnic group"),
    _U: ("REFU", "NOBT", "Unclassified", "Unknown", "Refused", "Information refused",
         "Not obtained", "Information not yet obtained", "Not known", "Not stated",
         "Prefer not to say"),
})

BOOL_TRUE = ("y", "yes", "true", "1", "t")
BOOL_FALSE = ("n", "no", "false", "0", "f")

# Register marks (dfe-codes.md §3, data-spec §2).
MARKS_ATTENDED = ("/", "\\", "L", "K", "V", "P", "W", "B")
MARKS_NOT_POSSIBLE = ("D", "X", "Q", "Y", "Y1", "Y2", "Y3", "Y4", "Y5", "Y6", "Y7", "Z", "#")

SUMMARY_WORDS = ("total", "totals", "grand total", "count")
