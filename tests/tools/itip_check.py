"""libical's iTIP check, run by Debian's own Python (`/usr/bin/python3`), which has the bindings.

Reads an iCalendar object on stdin; prints what libical finds (X-LIC-ERROR lines) and exits 0
when `restriction_check` passes and nothing was flagged, 1 otherwise.
"""

import sys

import gi

gi.require_version("ICalGLib", "3.0")
from gi.repository import ICalGLib  # noqa: E402

text = sys.stdin.read()
component = ICalGLib.Component.new_from_string(text)
if component is None:
    print("unparsable")
    sys.exit(1)
passed = bool(ICalGLib.restriction_check(component))
errors = [line for line in component.as_ical_string().splitlines() if "X-LIC-ERROR" in line]
for line in errors:
    print(line)
print("restriction_check:", "ok" if passed else "failed")
sys.exit(0 if passed and not errors else 1)
