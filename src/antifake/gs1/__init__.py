"""GS1 identifiers: GTIN check digits, Digital Link URIs, element strings and EPC URIs.

This module is the bridge between antifake stamps and the GS1 system. It is plain Python (it is
off the hot path) and every parser in it accepts any ``str`` (most also ``bytes``) and either
returns a result or raises [`GS1Error`][antifake.errors.GS1Error] with a reason: never another
exception, whatever the input.

Standards implemented (section numbers as in the current issues):

* **GS1 General Specifications** -- section 3 (definitions of Application Identifiers 00, 01,
  10, 17, 21 and the other AIs listed in ``_AI_SPEC``), section 7.9 (the standard mod-10 check
  digit: weights 3 and 1 alternating from the right), section 7.11 (AI encodable character set
  82, "CSET 82", and character set 39 used by AI 8010), section 7.12 (determination of the
  century of a two-digit year, and day ``00`` meaning the last day of the month).
* **GS1 Digital Link URI Syntax 1.x** -- path ``/{primary key}/{value}`` followed by the key
  qualifiers in their fixed order (``/01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}]``), data
  attributes in the query string, the 1.x short names (``gtin``, ``lot``, ``ser``, ``exp``, ...),
  ``&`` or ``;`` as query separators, and percent-encoding of every character outside the RFC
  3986 unreserved set in AI values.
* **EPC Tag Data Standard (TDS) 2.x** -- EPC pure identity URIs (``urn:epc:id:sgtin:...`` and the
  other GS1-key schemes), the EPC class URI ``urn:epc:class:lgtin``, their percent-escapes
  (``" % & / < > ?`` and, for CPI, ``#``), and their correspondence with GS1 keys.
* **EPCIS 2.0 / CBV 2.0** -- the canonical GS1 Digital Link form of an EPC
  (``https://id.gs1.org/...``, finest identification level only, no query string) used in
  EPCIS 2.0 documents and as input to the CBV 2.0 event hash.
  [`canonical_gs1_uri`][antifake.gs1.canonical.canonical_gs1_uri] (`antifake.gs1.canonical`) is
  the canonicaliser the event hash and the registry use: lenient, as GS1's reference is.
  [`epc_to_digital_link`][antifake.gs1.epc_to_digital_link] validates strictly (with an error
  naming the fault) and gives the same URI, including the reference's percent-encoding, which
  leaves the RFC 3986 sub-delimiters ``'``, ``;`` and ``=`` literal.
"""

from __future__ import annotations

from antifake.gs1._text import CANONICAL_BASE, MAX_URI_LENGTH
from antifake.gs1.canonical import canonical_gs1_uri
from antifake.gs1.dates import ai17_to_date, expiry_to_ai17
from antifake.gs1.digital_link import DigitalLink, build_digital_link, parse_digital_link
from antifake.gs1.element import element_string, parse_element_string
from antifake.gs1.epc import (
    epc_to_digital_link,
    gln_key,
    is_epc_uri,
    parse_sgtin_urn,
    sgtin_digital_link,
    sgtin_urn,
)
from antifake.gs1.gtin import gtin_check_digit, validate_gtin, validate_lot, validate_serial

__all__ = [
    "CANONICAL_BASE",
    "MAX_URI_LENGTH",
    "DigitalLink",
    "gtin_check_digit",
    "validate_gtin",
    "validate_lot",
    "validate_serial",
    "expiry_to_ai17",
    "ai17_to_date",
    "build_digital_link",
    "parse_digital_link",
    "sgtin_digital_link",
    "sgtin_urn",
    "parse_sgtin_urn",
    "canonical_gs1_uri",
    "epc_to_digital_link",
    "gln_key",
    "is_epc_uri",
    "element_string",
    "parse_element_string",
]
