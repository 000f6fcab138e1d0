(function () {
  "use strict";
  var input = document.querySelector("input[data-filter]");
  if (input) {
    var rows = Array.prototype.slice.call(document.querySelectorAll("#" + input.dataset.filter + " tbody tr"));
    var texts = rows.map(function (r) { return r.textContent.toLowerCase(); });
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      for (var i = 0; i < rows.length; i++) { rows[i].hidden = q !== "" && texts[i].indexOf(q) < 0; }
    });
  }
  var keys = { last: ["last", -1, true], missed: ["missed", -1, true], name: ["name", 1, false] };
  Array.prototype.forEach.call(document.querySelectorAll("button[data-sort]"), function (btn) {
    btn.addEventListener("click", function () {
      var k = keys[btn.dataset.sort], body = document.querySelector("#" + btn.dataset.table + " tbody");
      var list = Array.prototype.slice.call(body.rows);
      list.sort(function (a, b) {
        var x = a.dataset[k[0]], y = b.dataset[k[0]];
        if (k[2]) { x = Number(x); y = Number(y); }
        return x < y ? -k[1] : x > y ? k[1] : 0;
      });
      list.forEach(function (r) { body.appendChild(r); });
      Array.prototype.forEach.call(document.querySelectorAll("button[data-sort]"), function (b) { b.classList.remove("active"); });
      btn.classList.add("active");
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener("click", function () {
        var down = th.getAttribute("aria-sort") !== "descending";
        Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", down ? "descending" : "ascending");
        var body = table.tBodies[0], list = Array.prototype.slice.call(body.rows);
        var key = function (r) {
          var c = r.cells[col];
          if (!c) { return ""; }
          return c.dataset.v !== undefined ? Number(c.dataset.v) : c.textContent.toLowerCase();
        };
        list.sort(function (a, b) {
          var x = key(a), y = key(b);
          return (x < y ? -1 : x > y ? 1 : 0) * (down ? -1 : 1);
        });
        list.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
