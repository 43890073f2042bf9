"""The README documents what the command line offers, and CI runs what the README says."""

from __future__ import annotations

import argparse
import re
import subprocess
from pathlib import Path

from pipeline import cli

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    (group,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(group.choices)


def options(parser: argparse.ArgumentParser) -> list[str]:
    return [o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"]


def test_every_command_is_documented_in_the_readme() -> None:
    missing = [name for name in subcommands() if f"`{name}`" not in README and f"newswatch {name}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def test_every_option_is_documented_in_the_readme() -> None:
    missing = [f"{name} {opt}" for name, sub in subcommands().items() for opt in options(sub)
               if not re.search(re.escape(opt) + r"(?![\w-])", README)]
    missing += [opt for opt in options(cli.build_parser()) if opt not in README]
    assert not missing, f"options missing from README.md: {missing}"


def test_every_command_help_has_an_example() -> None:
    for name, sub in subcommands().items():
        assert "Example:\n  newswatch" in sub.format_help(), name


def test_exit_codes_are_the_same_in_readme_cli_and_help() -> None:
    table = README.split("### Exit codes", 1)[1].split("\n\n", 2)[1]
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)}
    constants = {v for k, v in vars(cli).items() if k.startswith("EXIT_") and isinstance(v, int)}
    in_docstring = {int(m) for m in re.findall(r"^  (\d) ", cli.__doc__ or "", re.MULTILINE)}
    assert documented == constants == in_docstring
    epilog = cli.build_parser().format_help()
    assert all(re.search(rf"\b{code} ", epilog) for code in {0, 1, 2, 3, 4, 5})


def top_of_readme() -> str:
    return README.split("\n---\n", 1)[0]


def test_readme_opens_with_exactly_two_setup_blocks() -> None:
    top = top_of_readme()
    assert "\n## " not in top
    blocks = FENCE.findall(top)
    assert [lang for lang, _ in blocks] == ["sh", "sh"]
    run, tests = (body.strip() for _, body in blocks)
    assert "\n" not in run and "pip install ." in run and run.endswith("newswatch run")
    assert "\n" not in tests and "pip install -e '.[test]'" in tests and "pytest" in tests
    marked = top.split("<!-- test-command -->", 1)[1].split("<!-- /test-command -->", 1)[0]
    assert FENCE.findall(marked) == [blocks[1]]


def test_ci_runs_the_readmes_test_command() -> None:
    """Runs .ci/run's own extraction line (not the whole script, which builds a venv)."""
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    (extract,) = [line for line in script.splitlines() if line.startswith("cmd=$(")]
    assert re.search(r'bash -euo pipefail -c "\$cmd"', script)
    got = subprocess.run(["bash", "-c", f'{extract}\nprintf "%s" "$cmd"'], cwd=REPO, capture_output=True,
                         text=True, timeout=30, check=True).stdout
    (_, tests) = FENCE.findall(top_of_readme())[1]
    assert got == tests.strip()
