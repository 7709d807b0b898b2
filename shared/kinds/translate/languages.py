"""Language codes: the public API speaks ISO 639-1, Apertium's mode names mix 639-1 and 639-3."""
from __future__ import annotations

import functools

import pycountry


@functools.lru_cache(maxsize=1024)
def normalize(code: str) -> str:
    """Return the ISO 639-1 code of a 2- or 3-letter language code (639-3 when no 639-1 exists).

    Accepts any case and the 639-2 bibliographic forms ("fre", "ger"); raises ValueError otherwise.
    """
    wanted = code.strip().lower() if isinstance(code, str) else ""
    language = None
    if len(wanted) == 2 and wanted.isalpha():
        language = pycountry.languages.get(alpha_2=wanted)
    elif len(wanted) == 3 and wanted.isalpha():
        language = (pycountry.languages.get(alpha_3=wanted)
                    or pycountry.languages.get(bibliographic=wanted))
    if language is None:
        raise ValueError(f"unknown language code {code!r}: use an ISO 639-1 code such as 'en' or 'es'")
    return getattr(language, "alpha_2", language.alpha_3)


def language_name(code: str) -> str:
    """Return the English name of a language code, e.g. 'es' -> 'Spanish'."""
    normalized = normalize(code)
    if len(normalized) == 2:
        return pycountry.languages.get(alpha_2=normalized).name
    return pycountry.languages.get(alpha_3=normalized).name
