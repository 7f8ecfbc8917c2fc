"""The questionnaire as a person sees it: driven through a real terminal with pexpect."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import yaml

from harness.repo import TEMPLATE_ROOT

DOWN, ENTER, CLEAR_LINE = "\x1b[B", "\r", "\x15"

# Each prompt's help text, in the order a person meets them.
PROMPTS = [
    "Project name (shown in docs and the API title)",
    "Short name for directories, packages and containers",
    "One sentence on what the backend does",
    "Author or team name",
    "Contact email",
    "Licence of the generated code",
    "Who calls this backend?",
    "Do users need live updates",
    "What role does machine learning or data work play?",
    "The team's strongest language?",
    "What matters most right now?",
    "Is there CPU-heavy or long-running work",
    "Architecture to generate. From your answers we recommend",
    "Where does the example domain keep its data?",
    "Where will it run beyond one machine?",
    "Who may call the API?",
]
# What each guidance question says its answer weighs, on screen with the question.
WEIGHS = {
    "Who calls this backend?": "A TypeScript web frontend pulls towards Node",
    "Do users need live updates": "Yes pulls towards Node",
    "What role does machine learning or data work play?": "pull decisively towards Python",
    "The team's strongest language?": "It pulls towards itself",
    "What matters most right now?": "Throughput pulls towards Node",
    "Is there CPU-heavy or long-running work": "Neutral between the stacks",
}
# The recommendation for the answers typed below (ML core, the rest defaults), with its reason.
RECOMMENDATION = (
    "hybrid, because ML is core, a TypeScript web frontend calls it and the team writes TypeScript"
    " (rule 1 of 5)"
)


def test_person_answers_in_a_terminal_and_gets_the_recommendation(tmp_path: Path) -> None:
    """Typing a name, picking "core ML" and pressing Enter elsewhere recommends and renders hybrid."""
    destination = tmp_path / "project"
    copier = Path(sys.executable).with_name("copier")
    terminal = pexpect.spawn(
        str(copier),
        ["copy", "--vcs-ref", "HEAD", str(TEMPLATE_ROOT), str(destination)],
        # prompt_toolkit asks the terminal for its cursor position unless told not to.
        env={**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm"},
        dimensions=(50, 220),
        encoding="utf-8",
        timeout=20,
    )
    try:
        for help_text in PROMPTS:
            terminal.expect_exact(help_text)
            if help_text in WEIGHS:
                terminal.expect_exact(WEIGHS[help_text])
            if help_text.startswith("Project name"):
                terminal.expect_exact("My Backend")  # the default, editable in place
                terminal.send(CLEAR_LINE + "Terminal Shop" + ENTER)
            elif help_text.startswith("Short name"):
                terminal.expect_exact("terminal-shop")  # derived from the name just typed
                terminal.send(ENTER)
            elif help_text.startswith("What role does machine learning"):
                terminal.send(DOWN + DOWN + ENTER)  # none -> hosted-apis -> core
            elif help_text.startswith("Architecture"):
                terminal.expect_exact(RECOMMENDATION)
                terminal.send(ENTER)
            else:
                terminal.send(ENTER)
        terminal.expect(pexpect.EOF, timeout=120)
    finally:
        terminal.close()
    assert 0 == terminal.exitstatus, terminal.before

    answers = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    assert {
        "project_name": "Terminal Shop",
        "project_slug": "terminal-shop",
        "ml": "core",
        "architecture": "hybrid",
    }.items() <= answers.items()
    assert (destination / "services/ml").is_dir()
