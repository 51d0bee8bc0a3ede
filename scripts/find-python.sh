#!/usr/bin/env bash
# Prints the path of a Python 3.13 interpreter: python3.13 on PATH, then any pyenv 3.13.x.
# Exits non-zero, saying what to install, when there is none.
set -euo pipefail

is_313() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; }

# A pyenv shim answers only where a .python-version selects 3.13: print the real interpreter.
if candidate=$(command -v python3.13 2>/dev/null) && is_313 "$candidate"; then
    "$candidate" -c 'import sys; print(sys.executable)'; exit 0
fi
pyenv_root=$( (command -v pyenv >/dev/null && pyenv root) 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for candidate in $(ls -d "$pyenv_root"/versions/3.13*/bin/python3.13 2>/dev/null | sort -rV); do
    if is_313 "$candidate"; then echo "$candidate"; exit 0; fi
done
cat >&2 <<'MSG'
error: Python 3.13 was not found (looked for python3.13 on PATH and in pyenv's versions).
Install it, then run this command again, for example:
    pyenv install 3.13        (with pyenv)
    sudo apt install python3.13 python3.13-venv        (Debian/Ubuntu with 3.13 packages)
MSG
exit 1
