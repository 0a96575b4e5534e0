// Offline search of the course book: search-index.js (written by report.py)
// sets window.SEARCH_INDEX to one entry per heading of every page, with the
// paragraph text under it. The query comes from ?q=... or the search box.
(function () {
  "use strict";
  const index = window.SEARCH_INDEX || [];
  const box = document.getElementById("search-query");
  const summary = document.getElementById("search-summary");
  const results = document.getElementById("search-results");

  // The terms of a query; an entry matches when it holds every term.
  function terms(query) {
    return query.toLowerCase().split(/\s+/).filter(Boolean);
  }

  // A line of text around the first term, the terms marked.
  function snippet(text, words) {
    const lower = text.toLowerCase();
    const at = Math.max(0, lower.indexOf(words[0]));
    const start = Math.max(0, at - 80);
    const part = (start > 0 ? "\u2026" : "") + text.slice(start, start + 220) + (start + 220 < text.length ? "\u2026" : "");
    const span = document.createElement("span");
    span.className = "snippet";
    const pattern = new RegExp("(" + words.map(w => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|") + ")", "gi");
    part.split(pattern).forEach((piece, i) => {
      if (i % 2 === 1) {
        const mark = document.createElement("mark");
        mark.textContent = piece;
        span.appendChild(mark);
      } else {
        span.appendChild(document.createTextNode(piece));
      }
    });
    return span;
  }

  function search(query) {
    const words = terms(query);
    results.textContent = "";
    if (!words.length) {
      summary.textContent = "Type a word or two: every section's headings and text are searched.";
      return;
    }
    const hits = [];
    index.forEach((entry, order) => {
      const heading = entry.heading.toLowerCase();
      const haystack = (entry.section + " " + entry.heading + " " + entry.text).toLowerCase();
      if (!words.every(w => haystack.includes(w))) return;
      // Matches in a heading rank first, then by how often the terms occur.
      const inHeading = words.filter(w => heading.includes(w)).length;
      const count = words.reduce((n, w) => n + haystack.split(w).length - 1, 0);
      hits.push({entry, score: inHeading * 100 + count, order});
    });
    hits.sort((a, b) => b.score - a.score || a.order - b.order);
    const pages = new Set(hits.map(h => h.entry.page.split("#")[0]));
    summary.textContent = hits.length
      ? hits.length + (hits.length === 1 ? " result" : " results") + " on " + pages.size + (pages.size === 1 ? " page" : " pages") + " for \u201c" + query + "\u201d."
      : "Nothing found for \u201c" + query + "\u201d.";
    hits.forEach(({entry}) => {
      const item = document.createElement("li");
      item.dataset.page = entry.page.split("#")[0];
      const link = document.createElement("a");
      link.href = entry.page;
      link.textContent = entry.heading || entry.section;
      const where = document.createElement("span");
      where.className = "where";
      where.textContent = entry.section;
      item.append(where, link);
      if (entry.text) item.appendChild(snippet(entry.text, words));
      results.appendChild(item);
    });
  }

  const query = new URLSearchParams(window.location.search).get("q") || "";
  box.value = query;
  search(query);
  box.addEventListener("input", () => search(box.value));
})();
