// The review page's keys, selection and evidence picking. Plain forms do every decision; this
// only chooses which form to submit (htmx, when loaded, sends it and swaps the answer in).
(() => {
  "use strict";
  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
  // Offsets count code points, as the server (Python) does; JavaScript strings count UTF-16 units.
  const points = (text) => Array.from(text).length;
  let selected = null;

  const cards = () => $$("#cards .card");
  const cardOf = (id) => document.getElementById("card-" + id);
  const marksOf = (id) => $$("#article mark[data-records]").filter((m) => m.dataset.records.split(" ").includes(id));

  function select(id, { toText = false } = {}) {
    const card = cardOf(id);
    if (!card) return;
    $$(".card.selected").forEach((c) => c.classList.remove("selected"));
    $$("#article mark.marked").forEach((m) => m.classList.remove("marked"));
    selected = id;
    card.classList.add("selected");
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest" });
    const marks = marksOf(id);
    marks.forEach((m) => m.classList.add("marked"));
    if (toText && marks.length) marks[0].scrollIntoView({ block: "center" });
    const anchor = $("#selection-anchor");
    if (anchor) {
      anchor.elements.record.value = id;
      $(".target", anchor).textContent = id;
      anchor.querySelector("button").disabled = false;
    }
  }

  function step(by) {
    const all = cards();
    if (!all.length) return;
    const at = all.findIndex((c) => c.dataset.record === selected);
    const next = at < 0 ? (by > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + by));
    select(all[next].dataset.record, { toText: true });
  }

  // Sent through htmx's API rather than the form's submit event: in the moment after a swap,
  // before htmx has bound the new forms, a submit event would post the plain form instead.
  function submit(form, key) {
    if (!form) return;
    if (form.elements.key) form.elements.key.value = key;
    if (!window.htmx) { form.requestSubmit(); return; }
    htmx.ajax("POST", form.getAttribute("action"), {
      source: form, target: "#review", select: "#review", swap: "outerHTML",
    });
  }

  // A selection boundary as a position in the article's text: the length of what precedes it.
  function position(node, offset) {
    const article = $("#article");
    if (!article.contains(node)) return null;
    const before = document.createRange();
    before.setStart(article, 0);
    before.setEnd(node, offset);
    return points(before.toString());
  }

  function picked() {
    const chosen = window.getSelection();
    if (!chosen || chosen.isCollapsed || !chosen.rangeCount) return null;
    const range = chosen.getRangeAt(0);
    const start = position(range.startContainer, range.startOffset);
    const end = position(range.endContainer, range.endOffset);
    if (start === null || end === null || end <= start) return null;
    const quote = Array.from($("#article").textContent).slice(start, end).join("");
    return { start, end, quote };
  }

  function showSelection() {
    const panel = $("#selection");
    const pick = picked();
    if (!panel || !pick) return;
    $("#selection-quote").textContent = pick.quote.length > 160 ? pick.quote.slice(0, 160) + "…" : pick.quote;
    $("#selection-range").textContent = `characters ${pick.start} to ${pick.end}`;
    for (const form of [$("#selection-anchor"), $("#selection-add")]) {
      form.elements.start.value = pick.start;
      form.elements.end.value = pick.end;
    }
    $("#selection-anchor").elements.quote.value = pick.quote;
    panel.hidden = false;
  }

  function setUp() {
    const review = $("#review");
    if (!review) return;
    const help = $("#help-button");
    if (help) help.hidden = false;
    // The editor's latest choice first (a key pressed while the answer settled), then the
    // record the server answered about.
    const linked = location.hash.startsWith("#card-") ? location.hash.slice(6) : null;
    const again = [selected, review.dataset.selected, linked].find((id) => id && cardOf(id));
    if (again) select(again);
  }

  document.addEventListener("click", (event) => {
    const target = event.target;
    if (!(target instanceof Element)) return;
    if (target.closest("#help-button")) { $("#help").showModal(); return; }
    const link = target.closest("[data-select]");
    if (link) { event.preventDefault(); select(link.dataset.select, { toText: true }); return; }
    const mark = target.closest("#article mark[data-records]");
    if (mark) {
      if (!window.getSelection().isCollapsed) return; // the end of a text selection
      const ids = mark.dataset.records.split(" ");
      // Clicking a run of several records' evidence again selects the next of them.
      const next = ids.includes(selected) ? ids[(ids.indexOf(selected) + 1) % ids.length] : ids[0];
      select(next);
      return;
    }
    const card = target.closest("#cards .card");
    if (card && !target.closest("a, button, input, select, textarea, label, summary, form")) {
      select(card.dataset.record, { toText: true });
    }
  });

  document.addEventListener("mouseup", (event) => {
    if (event.target instanceof Element && event.target.closest("#article")) showSelection();
  });
  document.addEventListener("keyup", (event) => {
    if (event.shiftKey && document.activeElement?.closest?.("#article")) showSelection();
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof Element && target.closest("input, textarea, select, [contenteditable]")) return;
    if ($("#help")?.open && event.key !== "Escape") return;
    const card = selected ? cardOf(selected) : null;
    switch (event.key) {
      case "j": step(1); break;
      case "k": step(-1); break;
      case "a": submit(card && $("form.accept", card), "a"); break;
      case "x": submit(card && $("form.reject", card), "x"); break;
      case "e": {
        const edit = card && $("a.edit", card);
        if (!edit || $("#edit-form", card)) return;
        if (!window.htmx) { edit.click(); return; }
        htmx.ajax("GET", edit.getAttribute("href"), {
          source: edit, target: card, select: "#edit-form", swap: "beforeend",
        }).then(() => {
          const form = $("#edit-form", card);
          if (!form) return;
          form.elements.key.value = "e";
          $("input, select, textarea", $(".field", form))?.focus();
        });
        break;
      }
      case "u": submit($("#undo"), "u"); break;
      case "?": $("#help")?.showModal(); break;
      default: return;
    }
    event.preventDefault();
  });

  document.addEventListener("htmx:afterSettle", setUp);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
