"""The CBV 2.0 vocabulary, the EPCIS field order of the event hash and the JSON-LD
namespaces a document declares."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

EPCIS_CONTEXT_URL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
AF_NS = "https://antifake.dev/ns/epcis#"
#: The ``@context`` antifake writes, and the one assumed when none is given.
DEFAULT_CONTEXT: tuple[Any, ...] = (EPCIS_CONTEXT_URL, {"af": AF_NS})

_CBV = "https://ref.gs1.org/cbv/"
_GS1 = "https://gs1.org/voc/"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


#: Prefixes declared by the EPCIS 2.0 JSON-LD context itself.
STANDARD_PREFIXES: dict[str, str] = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": _CBV,
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": _GS1,
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}

# The CBV 2.0 / GS1 Web Vocabulary terms that the EPCIS 2.0 context lets events write as bare
# words: (IRI prefix, terms).
BIZ_STEPS = frozenset(
    _words(
        """accepting arriving assembling collecting commissioning consigning
        creating_class_instance cycle_counting decommissioning departing destroying
        disassembling dispensing encoding entering_exiting holding inspecting installing
        killing loading other packing picking receiving removing repackaging repairing
        replacing reserving retail_selling sampling sensor_reporting shipping
        staging_outbound stock_taking stocking storing transporting unloading unpacking
        void_shipping"""
    )
)
DISPOSITIONS = frozenset(
    _words(
        """active available completeness_inferred completeness_verified conformant
        container_closed container_open damaged destroyed dispensed disposed encoded
        expired in_progress in_transit inactive mismatch_class mismatch_instance
        mismatch_quantity needs_replacement no_pedigree_match non_conformant
        non_sellable_other partially_dispensed recalled reserved retail_sold returned
        sellable_accessible sellable_not_accessible stolen unavailable unknown"""
    )
)
SOURCE_DEST_TYPES = frozenset({"location", "owning_party", "possessing_party"})
BIZ_TRANSACTION_TYPES = frozenset(
    _words(
        """bol cert desadv inv pedigree po poc prodorder recadv rma testprd testres upevt"""
    )
)
MEASUREMENT_TYPES = frozenset(
    _words(
        """AbsoluteHumidity AbsorbedDose AbsorbedDoseRate Acceleration Altitude
        AmountOfSubstance AmountOfSubstancePerUnitVolume Angle AngularAcceleration
        AngularMomentum AngularVelocity Area Capacitance Conductance Conductivity Count
        Density Dimensionless DoseEquivalent DoseEquivalentRate DynamicViscosity
        ElectricCharge ElectricCurrent ElectricCurrentDensity ElectricFieldStrength
        Energy Exposure Force Frequency Illuminance Inductance Irradiance
        KinematicViscosity Length LinearMomentum Luminance LuminousFlux
        LuminousIntensity MagneticFlux MagneticFluxDensity MagneticVectorPotential Mass
        MassConcentration MassFlowRate MassPerAreaTime MemoryCapacity MolalityOfSolute
        MolarEnergy MolarMass MolarVolume Power Pressure RadiantFlux RadiantIntensity
        Radioactivity RelativeHumidity Resistance Resistivity SolidAngle SpecificVolume
        Speed SurfaceDensity SurfaceTension Temperature Time Torque Voltage Volume
        VolumeFlowRate VolumeFraction VolumetricFlux Wavenumber"""
    )
)
SENSOR_ALARM_TYPES = frozenset({"ALARM_CONDITION", "ERROR_CONDITION"})
COMPONENTS = frozenset(
    _words(
        """altitude axial_distance azimuth easting elevation_angle height latitude
        longitude northing polar_angle spherical_radius x y z"""
    )
)
ERROR_REASONS = frozenset({"did_not_occur", "incorrect_data"})

_VOCAB: dict[str, tuple[str, frozenset[str]]] = {
    "BizStep": (_CBV + "BizStep-", BIZ_STEPS),
    "Disp": (_CBV + "Disp-", DISPOSITIONS),
    "SDT": (_CBV + "SDT-", SOURCE_DEST_TYPES),
    "BTT": (_CBV + "BTT-", BIZ_TRANSACTION_TYPES),
    "Measurement": (_GS1, MEASUREMENT_TYPES),
    "Alarm": (_GS1, SENSOR_ALARM_TYPES),
    "Comp": (_CBV + "Comp-", COMPONENTS),
    "ER": (_CBV + "ER-", ERROR_REASONS),
}

#: Fields (and sub-fields) hashed in this order, before the remaining ones. Each entry is
#: ``(name, sub-order or None)``; names are those of the EPCIS XML model.
_SENSOR_METADATA = tuple((n, None) for n in _words(
    """time startTime endTime deviceID deviceMetadata rawData dataProcessingMethod bizRules"""))
_SENSOR_REPORT = tuple((n, None) for n in _words(
    """type exception deviceID deviceMetadata rawData dataProcessingMethod time microorganism
    chemicalSubstance value component stringValue booleanValue hexBinaryValue uriValue
    minValue maxValue meanValue sDev percRank percValue uom coordinateReferenceSystem"""))
_QUANTITY = (("quantityElement", (("epcClass", None), ("quantity", None), ("uom", None))),)
_EPC = (("epc", None),)
ORDER: tuple[tuple[str, Any], ...] = (
    ("eventTime", None),
    ("eventTimeZoneOffset", None),
    ("certificationInfo", None),
    ("parentID", None),
    ("epcList", _EPC),
    ("inputEPCList", _EPC),
    ("childEPCs", _EPC),
    ("quantityList", _QUANTITY),
    ("childQuantityList", _QUANTITY),
    ("inputQuantityList", _QUANTITY),
    ("outputEPCList", _EPC),
    ("outputQuantityList", _QUANTITY),
    ("action", None),
    ("transformationID", None),
    ("bizStep", None),
    ("disposition", None),
    ("persistentDisposition", (("set", None), ("unset", None))),
    ("readPoint", (("id", None),)),
    ("bizLocation", (("id", None),)),
    # bizTransactionList, sourceList and destinationList come with the remaining fields.
    ("sensorElementList", (("sensorElement", (
        ("sensorMetadata", _SENSOR_METADATA),
        ("sensorReport", _SENSOR_REPORT),
    )),)),
)

_IGNORED_TOP_LEVEL = frozenset({"recordTime", "eventID", "type", "errorDeclaration"})
_SKIPPED_KEYS = frozenset({"#text", "rdfs:comment", "comment"})
_PAIR_LISTS = {"bizTransactionList": "bizTransaction", "sourceList": "source",
               "destinationList": "destination"}
_UNSORTED_NAMES = frozenset(_PAIR_LISTS.values())
_VOCAB_PREFIXES = ("https://ref.gs1.org/cbv", "https://gs1.org/voc")


# --------------------------------------------------------------------------------------------
# Context and namespaces


def namespaces_from_context(context: Any = None) -> dict[str, str]:
    """The ``prefix -> namespace IRI`` map that a document's ``@context`` declares.

    ``None`` means antifake's default context (EPCIS 2.0 plus ``af``). Context URLs declare
    nothing here (the EPCIS context's own prefixes are known separately); objects declare their
    string-valued entries (and ``{"@id": ...}`` term definitions).
    """
    if context is None:
        context = DEFAULT_CONTEXT
    entries: Iterable[Any]
    if isinstance(context, Mapping):
        entries = (context,)
    elif isinstance(context, (list, tuple)):
        entries = context
    else:
        entries = ()
    out: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        for key, value in entry.items():
            if not isinstance(key, str):
                continue
            if isinstance(value, str):
                out[key] = value
            elif isinstance(value, Mapping) and isinstance(value.get("@id"), str):
                out[key] = value["@id"]
    return out


def _expand_key(key: str, ns: Mapping[str, str]) -> str:
    prefix, sep, local = key.partition(":")
    if sep and prefix in ns:
        return "{" + ns[prefix] + "}" + local
    return key


def _expand_value(value: str, ns: Mapping[str, str]) -> str:
    prefix, sep, local = value.partition(":")
    if sep and prefix in ns:
        return ns[prefix] + local
    return value
