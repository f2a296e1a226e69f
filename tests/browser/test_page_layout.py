"""The page's layout (issue 19): usable from a 360-px phone to a laptop screen. Stacked panels and no horizontal
scroll on a phone, the learning curve in the first screenful at 1280x800, a hyperparameter form whose fields
never overlap."""

from __future__ import annotations

import pytest

from .helpers import wait_for

BOXES = """() => Object.fromEntries(['.view', '.side', '.workers', '.charts', '#chart-return'].map(s => {
  const r = document.querySelector(s).getBoundingClientRect();
  return [s, {left: r.left, right: r.right, top: r.top + scrollY, bottom: r.bottom + scrollY, width: r.width}];
}))"""

# Every hyperparameter field's box, and its input's: an input that leaves its field runs into the next one.
FIELD_OVERFLOWS = """() => [...document.querySelectorAll('#hyper-fields label.field')].flatMap(label => {
  const box = label.getBoundingClientRect();
  const control = label.querySelector('input, select');  // a field with choices is a select
  const input = control.getBoundingClientRect();
  return input.right > box.right + 0.5 || input.left < box.left - 0.5 ? [control.name] : [];
})"""


@pytest.mark.parametrize("width,height", [(390, 844), (360, 740)])
def test_phone_stacks_the_panels_without_horizontal_scroll(page, page_log, base_url, width, height):
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{base_url}?mode=main&autostart=1")
    wait_for(page, "robotrain.stats().episodes >= 20 && document.querySelectorAll('.chart .uplot').length === 5", 90,
             "training with its charts")
    page.click("#hyper summary")
    page.wait_for_timeout(1200)  # the charts follow their box once a second
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    boxes = page.evaluate(BOXES)
    for name in (".view", ".side", ".workers", ".charts"):
        assert boxes[name]["right"] <= width and boxes[name]["left"] >= 0, (name, boxes[name])
        assert boxes[name]["width"] >= width - 40, (name, boxes[name])  # one column: each panel takes the width
    assert boxes[".view"]["bottom"] <= boxes[".charts"]["top"] <= boxes[".side"]["top"]
    widest = page.evaluate("Math.max(...[...document.querySelectorAll('.chart canvas')].map(c => c.getBoundingClientRect().right))")
    assert widest <= width
    view = page.locator("#view").bounding_box()
    assert view["x"] >= 0 and view["x"] + view["width"] <= width and view["height"] > 100  # the cart is not cut off
    assert page.evaluate(FIELD_OVERFLOWS) == []
    page.evaluate("robotrain.pause()")
    assert page_log.problems() == []


def test_laptop_shows_the_learning_curve_without_scrolling(page, page_log, base_url):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{base_url}?mode=main")
    wait_for(page, "robotrain.stats().state === 'ready'", 60, "the page")
    page.evaluate("robotrain.start()")
    wait_for(page, "document.querySelector('#chart-return .uplot') !== null", 30, "the return chart")
    page.evaluate("robotrain.pause()")
    chart = page.locator("#chart-return canvas").first.bounding_box()
    assert chart["y"] >= 0 and chart["y"] + chart["height"] <= 800, chart
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    page.click("#hyper summary")
    assert page.evaluate(FIELD_OVERFLOWS) == []
    assert page_log.problems() == []


def test_the_solved_line_stays_off_an_axis_it_would_squash(page, page_log, base_url):
    page.goto(f"{base_url}?mode=main")
    wait_for(page, "robotrain.stats().state === 'ready'", 60, "the page")
    fits = page.evaluate("""() => import('./js/charts.js').then(({ thresholdFits }) => [
      thresholdFits(7000, [[12, 40, 250, null]]),     // balancebot's first minutes: a flat line at 0-7,000
      thresholdFits(7000, [[900, 3000, 5200]]),        // nearing it
      thresholdFits(475, [[9, 30, 60]]),               // cartpole's first episodes: far below, left out too
      thresholdFits(475, [[9, 150, 300]]),             // cartpole learning: within a span of the returns
      thresholdFits(-100, [[-500, -480, -350]]),       // acrobot's first episodes: left out
      thresholdFits(-100, [[-500, -300, -180]]),       // acrobot learning: drawn
      thresholdFits(475, [[]]),                        // no data yet: drawn
      thresholdFits(null, [[1, 2]]),
    ])""")
    assert fits == [False, True, False, True, False, True, True, False]
    assert page_log.problems() == []
