"""The project's own checks of an iCalendar stream, beside the independent parsers in tests.

`problems(data)` lists what is wrong, in English (a developer reads it): CRLF line ends, lines of
at most 75 octets, balanced components, one UID per event and no UID twice, every TZID defined
by a VTIMEZONE, no floating times, DTEND after DTSTART, REFRESH-INTERVAL with VALUE=DURATION.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

MAX_OCTETS = 75


@dataclass
class Property:
    name: str
    params: dict[str, str]
    value: str


@dataclass
class Component:
    name: str
    properties: list[Property] = field(default_factory=list)
    children: list["Component"] = field(default_factory=list)

    def all(self, name: str) -> list[Property]:
        return [p for p in self.properties if p.name == name]

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


def problems(data: bytes) -> list[str]:
    found = _physical_lines(data)
    try:
        root = _parse(_unfold(data.decode("utf-8")))
    except (UnicodeDecodeError, ValueError) as error:
        return [*found, f"unparsable: {error}"]
    return found + _calendar_problems(root)


def _physical_lines(data: bytes) -> list[str]:
    found = []
    if not data.endswith(b"\r\n"):
        found.append("the stream does not end with CRLF")
    for number, line in enumerate(data.split(b"\r\n"), start=1):
        if b"\n" in line or b"\r" in line:
            found.append(f"line {number}: bare LF or CR")
        if len(line) > MAX_OCTETS:
            found.append(f"line {number}: {len(line)} octets (at most {MAX_OCTETS})")
    return found


def _unfold(text: str) -> list[str]:
    text = text.replace("\r\n ", "").replace("\r\n\t", "")
    return [line for line in text.split("\r\n") if line]


def _parse(lines: list[str]) -> Component:
    stack: list[Component] = []
    root = None
    for line in lines:
        prop = _property(line)
        if prop.name == "BEGIN":
            component = Component(prop.value.upper())
            if stack:
                stack[-1].children.append(component)
            elif root is None:
                root = component
            else:
                raise ValueError("content after the calendar")
            stack.append(component)
        elif prop.name == "END":
            if not stack or stack[-1].name != prop.value.upper():
                raise ValueError(f"END:{prop.value} does not close the open component")
            stack.pop()
        elif stack:
            stack[-1].properties.append(prop)
        else:
            raise ValueError(f"property outside any component: {line[:40]!r}")
    if root is None or stack:
        raise ValueError("unbalanced BEGIN/END")
    return root


def _property(line: str) -> Property:
    """`NAME;P1=a;P2="b;c":value`, parameters' quoted values kept whole."""
    in_quotes, cut = False, None
    for index, char in enumerate(line):
        if char == '"':
            in_quotes = not in_quotes
        elif char == ":" and not in_quotes:
            cut = index
            break
    if cut is None:
        raise ValueError(f"no value: {line[:40]!r}")
    head, value = line[:cut], line[cut + 1 :]
    parts, current, in_quotes = [], "", False
    for char in head:
        if char == '"':
            in_quotes = not in_quotes
        if char == ";" and not in_quotes:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    params = {}
    for part in parts[1:]:
        key, _, param_value = part.partition("=")
        params[key.upper()] = param_value.strip('"')
    return Property(parts[0].upper(), params, value)


def _calendar_problems(root: Component) -> list[str]:
    found = []
    if root.name != "VCALENDAR":
        return [f"the stream is a {root.name}, not a VCALENDAR"]
    for name in ("PRODID", "VERSION"):
        if len(root.all(name)) != 1:
            found.append(f"VCALENDAR needs exactly one {name}")
    for prop in root.all("REFRESH-INTERVAL"):
        if prop.params.get("VALUE", "").upper() != "DURATION":
            found.append("REFRESH-INTERVAL without VALUE=DURATION")
    defined = {
        c.all("TZID")[0].value for c in root.walk() if c.name == "VTIMEZONE" and c.all("TZID")
    }
    seen_uids: set[str] = set()
    for component in root.walk():
        for prop in component.properties:
            tzid = prop.params.get("TZID")
            if tzid is not None and tzid not in defined:
                found.append(f"{component.name} {prop.name}: TZID {tzid} has no VTIMEZONE")
        if component.name == "VEVENT":
            found += _event_problems(component, seen_uids)
    return found


def _event_problems(event: Component, seen_uids: set[str]) -> list[str]:
    found = []
    uids = event.all("UID")
    if len(uids) != 1:
        return [f"VEVENT with {len(uids)} UIDs"]
    uid = uids[0].value
    if uid in seen_uids:
        found.append(f"UID {uid} appears twice")
    seen_uids.add(uid)
    times = {}
    for name in ("DTSTART", "DTEND", "DTSTAMP"):
        props = event.all(name)
        if len(props) > 1:
            found.append(f"{uid}: {name} appears {len(props)} times")
        if props:
            try:
                times[name] = _moment(props[0])
            except ValueError as error:
                found.append(f"{uid}: {name}: {error}")
    if "DTSTART" not in times:
        found.append(f"{uid}: no DTSTART")
    elif "DTEND" in times and times["DTEND"] <= times["DTSTART"]:
        found.append(f"{uid}: DTEND is not after DTSTART")
    return found


def _moment(prop: Property) -> datetime:
    """A DATE-TIME property as an aware datetime; floating times are a problem here."""
    value = prop.value
    if prop.params.get("VALUE") == "DATE":
        raise ValueError("all-day dates are not expected")
    if value.endswith("Z"):
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    tzid = prop.params.get("TZID")
    if tzid is None:
        raise ValueError(f"floating time {value}")
    return datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=ZoneInfo(tzid))
