"""Writing XML in schema order: child elements with text, dates and times as the schemas want."""

from __future__ import annotations

from datetime import UTC, date, datetime

from lxml import etree

XSI = "http://www.w3.org/2001/XMLSchema-instance"
Value = str | int | date | datetime | None


def text(value: str | int | date | datetime) -> str:
    """The schema's lexical form: xs:dateTime in UTC with its offset, xs:date, integers."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class Builder:
    """Makes elements in one namespace; a child whose value is None or "" is left out (the
    standard has no empty elements)."""

    def __init__(self, namespace: str) -> None:
        self.ns = namespace

    def root(self, name: str, schema: str) -> etree._Element:
        root = etree.Element(f"{{{self.ns}}}{name}", nsmap={None: self.ns, "xsi": XSI})
        root.set(f"{{{XSI}}}schemaLocation", f"{self.ns} {schema}")
        return root

    def add(self, parent: etree._Element, name: str, value: Value = None) -> etree._Element:
        """A child element, with text when `value` is given."""
        child = etree.SubElement(parent, f"{{{self.ns}}}{name}")
        if value is not None:
            child.text = text(value)
        return child

    def fields(self, parent: etree._Element, *pairs: tuple[str, Value]) -> None:
        """Children in this order; those without a value are left out."""
        for name, value in pairs:
            if value is None or value == "":
                continue
            self.add(parent, name, value)

    def typed(self, parent: etree._Element, name: str, xsi_type: str) -> etree._Element:
        """A child of a subtype (`<mappe xsi:type="saksmappe">`)."""
        child = self.add(parent, name)
        child.set(f"{{{XSI}}}type", xsi_type)
        return child


def serialize(root: etree._Element) -> bytes:
    """UTF-8 with its XML declaration, indented."""
    etree.indent(root, space="  ")
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return data + b"\n"
