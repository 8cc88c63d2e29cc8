// secaudit view: the page. Everything comes from this server's JSON API;
// every value from the log is put in the page as text, never as markup.
(function () {
  "use strict";
  var token = new URLSearchParams(location.search).get("token") || "";
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = { http: "--http", auth: "--auth", authz: "--authz", model: "--model", security: "--security", audit: "--audit" };
  var state = { offset: 0, limit: 50, filters: {}, total: -1 };
  var $ = function (id) { return document.getElementById(id); };

  function color(cls) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(COLORS[cls] || "--other");
    return v.trim() || "#9aa5b1";
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
  function fmtTime(ms) {
    var d = new Date(ms), p = function (n, w) { return String(n).padStart(w || 2, "0"); };
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds()) + "." + p(d.getMilliseconds(), 3);
  }

  function query() {
    var q = new URLSearchParams(state.filters);
    q.set("offset", state.offset);
    q.set("limit", state.limit);
    return fetch("/api/query?" + q.toString(), { headers: { "X-Secaudit-Token": token }, cache: "no-store" })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(body.error || r.statusText);
          return body;
        });
      });
  }

  function refresh() {
    return query().then(function (a) {
      $("error").textContent = "";
      state.total = a.total;
      render(a);
    }).catch(function (err) { $("error").textContent = err.message; });
  }

  function render(a) {
    $("matched").textContent = a.matched;
    $("total").textContent = a.total;
    $("took").textContent = a.took_ms.toFixed(1);
    $("bad").textContent = a.bad_lines ? " (" + a.bad_lines + " lines not events)" : "";
    timeline(a);
    bars($("failed-user"), a.failed_logins_by_user, "--auth");
    bars($("failed-addr"), a.failed_logins_by_addr, "--auth");
    bars($("client-errors"), a.client_errors_by_addr, "--authz");
    alerts(a);
    table(a);
  }

  function timeline(a) {
    var box = $("timeline"), legend = $("legend");
    clear(box); clear(legend);
    var W = 1000, H = 160, B = a.timeline.length, bw = W / B;
    var maxTotal = 1, totals = a.classes.map(function () { return 0; });
    a.timeline.forEach(function (b) {
      var s = 0;
      b.forEach(function (n, c) { s += n; totals[c] += n; });
      maxTotal = Math.max(maxTotal, s);
    });
    var s = svg("svg", { viewBox: "0 0 " + W + " " + (H + 18), preserveAspectRatio: "none", role: "img", "aria-label": "events by class over time" });
    a.timeline.forEach(function (b, i) {
      var y = H;
      b.forEach(function (n, c) {
        if (!n) return;
        var h = n / maxTotal * H;
        y -= h;
        var r = svg("rect", { x: i * bw + 1, y: y, width: Math.max(bw - 2, 1), height: h, fill: color(a.classes[c]), "data-class": a.classes[c], "data-count": n });
        r.appendChild(svg("title", {}, a.classes[c] + ": " + n + " at " + fmtTime(a.start + i * a.bucket)));
        s.appendChild(r);
      });
    });
    if (a.total > 0) {
      s.appendChild(svg("text", { x: 0, y: H + 14, "class": "axis" }, fmtTime(a.start)));
      s.appendChild(svg("text", { x: W, y: H + 14, "class": "axis", "text-anchor": "end" }, fmtTime(a.start + B * a.bucket)));
    }
    box.appendChild(s);
    a.classes.forEach(function (c, i) {
      var item = el("span", { "class": "legend-item", "data-class": c, "data-count": totals[i] });
      var sw = el("i"); sw.style.background = color(c);
      item.appendChild(sw);
      item.appendChild(document.createTextNode(c + " " + totals[i]));
      legend.appendChild(item);
    });
  }

  function bars(box, items, cssColor) {
    clear(box);
    if (!items.length) { box.appendChild(el("p", { "class": "empty" }, "none")); return; }
    var W = 420, row = 22, H = items.length * row, max = items[0].count, label = 150;
    var s = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img" });
    items.forEach(function (it, i) {
      var g = svg("g", { "class": "bar", "data-key": it.key, "data-count": it.count });
      var w = Math.max(it.count / max * (W - label - 50), 1);
      g.appendChild(svg("text", { x: label - 6, y: i * row + 15, "text-anchor": "end" }, it.key.length > 22 ? it.key.slice(0, 21) + "…" : it.key));
      var r = svg("rect", { x: label, y: i * row + 3, width: w, height: row - 6, rx: 2, fill: color(cssColor.slice(2)) });
      r.appendChild(svg("title", {}, it.key + ": " + it.count));
      g.appendChild(r);
      g.appendChild(svg("text", { x: label + w + 6, y: i * row + 15 }, String(it.count)));
      s.appendChild(g);
    });
    box.appendChild(s);
  }

  function alerts(a) {
    $("alert-count").textContent = a.alerts;
    $("block-count").textContent = a.blocks;
    var ul = $("alerts");
    clear(ul);
    if (!a.alerts_and_blocks.length) { ul.appendChild(el("li", { "class": "empty" }, "none")); return; }
    a.alerts_and_blocks.forEach(function (r) {
      var li = el("li", { "data-id": r.id });
      li.appendChild(el("span", {}, fmtTime(r.time) + " "));
      li.appendChild(el("span", { "class": "rule" }, r.event === "security.alert" ? (r.rule || "alert") : r.event.replace("security.", "")));
      var who = [r.user && "user " + r.user, r.addr && "address " + r.addr].filter(Boolean).join(", ");
      li.appendChild(el("span", {}, who ? " — " + who : ""));
      ul.appendChild(li);
    });
  }

  function table(a) {
    var tbody = document.querySelector("#events tbody");
    clear(tbody);
    a.rows.forEach(function (r) {
      var tr = el("tr", { "class": "ev", "data-id": r.id });
      tr.appendChild(el("td", {}, fmtTime(r.time)));
      tr.appendChild(el("td", { "class": "sev-" + r.severity }, r.severity));
      tr.appendChild(el("td", {}, r.event + (r.rule ? " (" + r.rule + ")" : "")));
      tr.appendChild(el("td", {}, r.user || "–"));
      tr.appendChild(el("td", {}, r.addr || "–"));
      tr.appendChild(el("td", {}, (r.method ? r.method + " " : "") + (r.route || "–")));
      tr.appendChild(el("td", {}, r.status ? String(r.status) : "–"));
      tr.appendChild(el("td", { "class": "out-" + r.outcome }, r.outcome || "–"));
      var td = el("td");
      if (r.trace_url) {
        var link = el("a", { "class": "trace", href: r.trace_url, target: "_blank", rel: "noopener noreferrer" }, r.trace_id.slice(0, 8) + "…");
        link.addEventListener("click", function (ev) { ev.stopPropagation(); });
        td.appendChild(link);
      } else {
        td.textContent = r.trace_id ? r.trace_id.slice(0, 8) + "…" : "–";
      }
      tr.appendChild(td);
      tr.addEventListener("click", function () { toggle(tr, r.id); });
      tbody.appendChild(tr);
    });
    var from = a.matched ? a.offset + 1 : 0, to = a.offset + a.rows.length;
    $("page").textContent = from + "–" + to + " of " + a.matched;
    $("prev").disabled = a.offset === 0;
    $("next").disabled = to >= a.matched;
  }

  function toggle(tr, id) {
    var next = tr.nextElementSibling;
    if (next && next.classList.contains("detail")) { next.remove(); return; }
    var detail = el("tr", { "class": "detail", "data-id": id });
    var td = el("td", { colspan: 9 });
    var pre = el("pre", {}, "…");
    td.appendChild(pre); detail.appendChild(td);
    tr.after(detail);
    fetch("/api/event?id=" + id, { headers: { "X-Secaudit-Token": token }, cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error(r.statusText); return r.json(); })
      .then(function (ev) { pre.textContent = JSON.stringify(ev, null, 2); })
      .catch(function (err) { pre.textContent = "could not read the event: " + err.message; });
  }

  function readFilters() {
    var f = {}, form = $("filters");
    ["event", "user", "addr", "since", "request"].forEach(function (k) {
      var v = form.elements[k].value.trim();
      if (v) f[k] = v;
    });
    return f;
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("filters").addEventListener("submit", function (ev) {
      ev.preventDefault();
      state.filters = readFilters();
      state.offset = 0;
      refresh();
    });
    $("clear").addEventListener("click", function () {
      $("filters").reset();
      state.filters = {};
      state.offset = 0;
      refresh();
    });
    $("prev").addEventListener("click", function () { state.offset = Math.max(0, state.offset - state.limit); refresh(); });
    $("next").addEventListener("click", function () { state.offset += state.limit; refresh(); });
    refresh().then(function () { document.body.setAttribute("data-ready", "1"); });
    setInterval(function () {
      if (!$("live").checked || document.querySelector("tr.detail")) return;
      query().then(function (a) { if (a.total !== state.total) { state.total = a.total; render(a); } }).catch(function () {});
    }, 3000);
  });
})();
