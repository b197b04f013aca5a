// Client-side filtering of window.PIAWATCH_INDEX (assets/search-index.js): no server, no network.
(function () {
  "use strict";
  var LIMIT = 500; // rows drawn at once; the count says how many match
  var index = window.PIAWATCH_INDEX;
  var form = document.getElementById("filters");
  var body = document.querySelector("#results tbody");
  var count = document.getElementById("result-count");
  var col = {};
  index.columns.forEach(function (name, i) { col[name] = i; });
  function labels(select) {
    var out = {};
    Array.prototype.forEach.call(document.getElementById(select).options, function (o) { out[o.value] = o.textContent; });
    return out;
  }
  var kindLabel = labels("f-kind"), ruleLabel = labels("f-rule");

  function value(id) { return document.getElementById(id).value; }

  function matches(doc, f) {
    var city = index.cities[doc[col.city_code]] || ["", ""];
    if (f.city && doc[col.city_code] !== f.city) return false;
    if (f.prefecture && city[1] !== f.prefecture) return false;
    if (f.kind && doc[col.kind] !== f.kind) return false;
    if (f.rule === "*" && doc[col.rules].length === 0) return false;
    if (f.rule && f.rule !== "*" && doc[col.rules].indexOf(f.rule) < 0) return false;
    if (f.from && !(doc[col.published_on] && doc[col.published_on] >= f.from)) return false;
    if (f.to && !(doc[col.published_on] && doc[col.published_on] <= f.to)) return false;
    if (f.q && doc[col.title].indexOf(f.q) < 0) return false;
    return true;
  }

  function cell(row, text, href) {
    var td = document.createElement("td");
    if (href) {
      var a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      td.appendChild(a);
    } else {
      td.textContent = text;
    }
    row.appendChild(td);
  }

  function update() {
    var f = {city: value("f-city"), prefecture: value("f-prefecture"), kind: value("f-kind"), rule: value("f-rule"),
             from: value("f-from"), to: value("f-to"), q: value("f-q").trim()};
    var found = index.docs.filter(function (doc) { return matches(doc, f); });
    body.textContent = "";
    found.slice(0, LIMIT).forEach(function (doc) {
      var city = index.cities[doc[col.city_code]] || [doc[col.city_code], ""];
      var row = document.createElement("tr");
      cell(row, city[0], "city/" + doc[col.city_code] + ".html");
      cell(row, city[1]);
      cell(row, kindLabel[doc[col.kind]] || doc[col.kind]);
      cell(row, doc[col.number] === null ? "—" : String(doc[col.number]));
      cell(row, doc[col.title] || "（表題なし）", "doc/" + doc[col.slug] + ".html");
      cell(row, doc[col.published_on] || "（空欄）");
      cell(row, doc[col.rules].map(function (r) { return ruleLabel[r] || r; }).join("、") || "なし");
      body.appendChild(row);
    });
    count.textContent = found.length + " 件" + (found.length > LIMIT ? "（先頭の " + LIMIT + " 件を表示）" : "");
  }

  // search.html?rule=…&city=… (the rule pages link here) presets the filters.
  new URLSearchParams(window.location.search).forEach(function (v, k) {
    var input = document.getElementById("f-" + k);
    if (input) input.value = v;
  });
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  update();
}());
