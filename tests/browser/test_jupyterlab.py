"""The workbook in a real browser: Chromium, driven by Playwright, on JupyterLab as `make lab` starts it.

What a learner does, in order: the start page opens at the server's default URL; its link to lesson 00 opens the
lesson, which runs top to bottom (Run → Run All Cells) and draws its picture; its link to lab 01 opens the learner
copy, which runs top to bottom with every check answering (not yet passed: nothing is filled in). Then, in a
console on the same server, a policy panel: ticking its checkbox applies the policy in the cluster and the status
line is redrawn with the new measurement; and a Deployment whose pods take seconds to become available shows a
progress bar that fills before it goes away. ipywidgets, tqdm and the panel are tested without a browser
elsewhere; here the question is whether the browser shows them and talks back to the kernel.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.browser.conftest import Lab, require_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN_ALL_TIMEOUT = 240  # seconds for one Run All: lesson 00 and lab 01 take a few here; the rest is for a loaded CI

# A Pod with a known label and a policy that isolates it: the panel's one checkbox.
PANEL = '''
import k8snet
from IPython.display import display
from k8snet import traffic, widgets

cluster = k8snet.connect()
cluster.recreate_namespace("browser")
for name in ("client", "web"):
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
                   "spec": {"containers": [{"name": "agnhost", "image": traffic.AGNHOST,
                                            "args": ["netexec", "--http-port=8080"]}]}}, namespace="browser")
for name in ("client", "web"):
    cluster.wait_pod_ready(name, "browser")
deny = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "deny-web", "namespace": "browser"},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]}}
panel = widgets.policy_panel(cluster, [deny], ["browser/client"], ["browser/web"], ports=[8080])
display(panel)
'''

# Three replicas that count as available only 3 s after they are ready (minReadySeconds): wait_ready's bar shows
# after its 1 s delay and fills when they become available.
PROGRESS = '''
import k8snet
from k8snet import traffic

cluster = k8snet.connect()
cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "browser"}})
cluster.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "slow"},
               "spec": {"replicas": 3, "minReadySeconds": 3, "selector": {"matchLabels": {"app": "slow"}},
                        "template": {"metadata": {"labels": {"app": "slow"}},
                                     "spec": {"containers": [{"name": "agnhost", "image": traffic.AGNHOST,
                                                              "args": ["netexec", "--http-port=8080"]}]}}}},
              namespace="browser")
cluster.wait_ready("slow", "browser")
print("slow is available")
'''

# Every width a progress bar takes, recorded as the page changes (a bar with leave=False is removed at 100 %,
# so polling could miss its last state).
RECORD_BARS = '''() => {
  window.k8snetBars = [];
  const seen = (bar) => {
    const row = bar.closest('.widget-hbox') || bar.parentElement;
    const text = row ? row.textContent.replace(/\u2007/g, ' ') : '';  // tqdm writes figure spaces
    window.k8snetBars.push({width: bar.style.width, text: text});
  };
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'attributes' && m.target.classList.contains('progress-bar')) seen(m.target);
      for (const node of m.addedNodes || []) {
        if (node.querySelectorAll) node.querySelectorAll('.progress-bar').forEach(seen);
      }
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['style']});
}'''

# The state of a notebook's code cells: prompts, whether each has code, and the text of error outputs.
CELLS = '''(panel) => Array.from(panel.querySelectorAll('.jp-CodeCell')).map((cell) => ({
  prompt: (cell.querySelector('.jp-InputPrompt') || {}).textContent || '',
  code: ((cell.querySelector('.jp-InputArea-editor .cm-content') || {}).textContent || '').trim().length > 0,
  errors: Array.from(cell.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
    .map((o) => o.textContent).filter((t) => /Traceback|Error/.test(t)),
}))'''


@pytest.fixture(scope="module")
def page_errors() -> list[str]:
    """Uncaught exceptions in the page's JavaScript (a widget that fails to render ends up here)."""
    return []


@pytest.fixture(scope="module")
def page(lab: Lab, page_errors: list[str]) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=require_browser())
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            page.goto(f"{lab.url}/?token={lab.token}")
            yield page
        finally:
            lab.remember_processes()
            browser.close()


@pytest.fixture(autouse=True)
def screenshot_on_failure(request: pytest.FixtureRequest, page, tmp_path_factory: pytest.TempPathFactory
                          ) -> Iterator[None]:
    """A failing step leaves a picture of the page; its path is printed with the failure."""
    yield
    report = getattr(request.node, "k8snet_call", None)
    if report is not None and report.failed:
        path = tmp_path_factory.getbasetemp() / f"{request.node.name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot of the page: {path}")


def tab(page, path: str):
    """The main-area tab of an open document, by its path from the repository root (the tab's tooltip has it)."""
    return page.locator(f'.lm-DockPanel-tabBar li.lm-TabBar-tab[title*="Path: {path}\\A "]')


def document(page, path: str):
    """The panel of an open document (its tab's data-id is the panel's id)."""
    widget_id = tab(page, path).get_attribute("data-id")
    return page.locator(f'[id="{widget_id}"]')


def wait_kernel(lab: Lab, what: str, timeout: float = 120) -> None:
    """Until the server has an idle kernel for a notebook's path (or a console, ``what="console"``).

    Run All while the page is still creating the notebook's session runs nothing (JupyterLab clears the cells
    instead), and the toolbar's indicator reads idle before it knows; the server's sessions do know.
    """
    deadline = time.monotonic() + timeout
    while True:
        status, body = lab.api("/api/sessions")
        sessions = json.loads(body) if status == 200 else []
        if any((s["type"] == "console" if what == "console" else s["path"] == what)
               and (s.get("kernel") or {}).get("execution_state") == "idle" for s in sessions):
            return
        assert time.monotonic() < deadline, f"no idle kernel for {what} after {timeout} s; sessions: {sessions}"
        time.sleep(0.2)


def menu(page, *path: str) -> None:
    """Click through the main menu: ``menu(page, "Run", "Run All Cells")``."""
    page.locator("#jp-MainMenu").get_by_text(path[0], exact=True).click()
    for item in path[1:-1]:
        page.locator(".lm-Menu").get_by_text(item, exact=True).hover()
    page.locator(".lm-Menu").get_by_text(path[-1], exact=True).click()


def run_all(page, lab: Lab, path: str, timeout: float = RUN_ALL_TIMEOUT) -> list[dict]:
    """Run → Run All Cells on an open notebook, on a fresh kernel and with the stored outputs cleared first, so
    every prompt and output the test reads comes from this run; fails on the first error output."""
    panel = document(page, path)
    wait_kernel(lab, path)
    tab(page, path).click()
    handle = panel.element_handle()
    menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function("(panel) => !panel.querySelector('.jp-OutputArea-output')", arg=handle)
    menu(page, "Run", "Run All Cells")
    deadline = time.monotonic() + timeout
    while True:
        cells = handle.evaluate(CELLS)
        errors = [e for c in cells for e in c["errors"]]
        assert not errors, f"{path}: a cell failed under Run All:\n" + "\n".join(errors)
        prompts = [c["prompt"].strip() for c in cells if c["code"]]
        if all(re.fullmatch(r"\[\d+\]:", p) for p in prompts):
            # the kernel started with the notebook: every cell ran once, in order
            assert prompts == [f"[{i}]:" for i in range(1, len(prompts) + 1)], prompts
            return cells
        assert time.monotonic() < deadline, f"{path}: Run All did not finish in {timeout} s; prompts: {prompts}"
        time.sleep(0.25)


def open_from_start_page(page, link: str, path: str):
    """Follow a link of START.ipynb; returns the opened notebook's panel."""
    tab(page, "START.ipynb").click()
    document(page, "START.ipynb").get_by_role("link", name=link, exact=True).click()
    tab(page, path).wait_for()
    return document(page, path)


def test_the_start_page_opens_at_the_default_url(page) -> None:
    page.wait_for_url(re.compile(r"/lab/tree/START\.ipynb"))
    start = document(page, "START.ipynb")
    start.get_by_role("heading", name="k8snet: Kubernetes networking, hands on").wait_for()
    start.get_by_role("link", name="Lab 06 — Gateway API", exact=True).wait_for()
    links = start.locator(".jp-RenderedMarkdown a").all_text_contents()
    assert {"Meet your cluster", "Lab 01 — Services"} <= set(links) and len(links) >= 12, links


def test_a_lesson_runs_all_cells_and_draws_its_picture(page, lab: Lab) -> None:
    lesson = open_from_start_page(page, "Meet your cluster", "notebooks/00-setup.ipynb")
    run_all(page, lab, "notebooks/00-setup.ipynb")
    outputs = lesson.locator(".jp-OutputArea-output")
    assert "backend:    sandbox" in outputs.first.text_content()
    assert "kubectl --context k8snet-sandbox get nodes -o wide" in lesson.text_content()
    picture = lesson.locator(".jp-OutputArea-output img").first
    picture.wait_for()
    assert picture.evaluate("img => img.complete && img.naturalWidth") > 200


def test_a_lab_runs_all_cells_and_every_check_answers(page, lab: Lab) -> None:
    notebook = open_from_start_page(page, "Lab 01 — Services", "labs/lab-01-services/lab.ipynb")
    run_all(page, lab, "labs/lab-01-services/lab.ipynb")
    text = notebook.text_content()
    assert "exercises: expose, selector, sticky" in text
    for exercise in ("expose", "selector", "sticky"):
        assert f"✗ {exercise}:" in text  # the progress cell: nothing filled in, every check answers with a hint
    assert notebook.get_by_text("✗ not yet").count() == 3  # the three check cells, as HTML


def console(page, lab: Lab):
    """A Python console (File → New → Console) on the server: a kernel whose outputs show widgets, with no file."""
    menu(page, "File", "New", "Console")
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    dialog.get_by_role("button", name="Select").click()
    page.locator(".jp-CodeConsole-promptCell").last.wait_for()
    wait_kernel(lab, "console")


def execute(page, code: str) -> None:
    """Type code into the console's prompt (as pasted: no auto-indent or closing brackets) and run it."""
    editor = page.locator(".jp-CodeConsole-promptCell .cm-content").last
    editor.click()
    page.keyboard.insert_text(code.strip())
    page.keyboard.press("Shift+Enter")


@pytest.fixture(scope="module")
def scratch(sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder for the console's scripts; the namespace they create is deleted at the end."""
    yield tmp_path_factory.mktemp("console")
    sandbox.kubectl("delete", "namespace", "browser", "--wait=false", "--ignore-not-found", check=False)


def test_ticking_a_policy_checkbox_redraws_the_status_line(page, lab: Lab, scratch: Path) -> None:
    from playwright.sync_api import expect

    (scratch / "panel.py").write_text(PANEL)
    console(page, lab)
    execute(page, f"%run {scratch / 'panel.py'}")
    status = page.locator(".jp-CodeConsole .widget-html").filter(has_text="on ·")
    status.get_by_text("0 policies on · 1 of 1 probes connected").wait_for()
    heatmap = page.locator(".jp-CodeConsole .widget-output img").last
    before = heatmap.get_attribute("src")
    box = page.get_by_role("checkbox", name="browser/deny-web — pods app=web: deny all ingress", exact=True)
    assert not box.is_checked()
    box.check()
    status.get_by_text("1 policy on · 0 of 1 probes connected").wait_for()
    expect(heatmap).not_to_have_attribute("src", before)  # the heatmap comes in a message of its own


def test_a_progress_bar_fills(page, lab: Lab, scratch: Path) -> None:
    (scratch / "progress.py").write_text(PROGRESS)
    if not page.locator(".jp-CodeConsole").count():
        console(page, lab)
    page.evaluate(RECORD_BARS)
    execute(page, f"%run {scratch / 'progress.py'}")
    page.locator(".jp-CodeConsole .jp-OutputArea-output").get_by_text("slow is available").wait_for(timeout=120_000)
    bars = [b for b in page.evaluate("window.k8snetBars") if "waiting for deployment slow" in b["text"]]
    widths = [float(b["width"].rstrip("%")) for b in bars if b["width"]]
    assert widths, f"no progress bar for the Deployment appeared; bars seen: {page.evaluate('window.k8snetBars')}"
    assert widths[0] < 100 and widths[-1] == 100, f"the bar did not fill: {bars}"
    assert "/3 [" in bars[0]["text"], f"the bar does not count the 3 replicas: {bars}"


def test_the_page_raised_no_error(page, page_errors: list[str]) -> None:
    assert page_errors == []
