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
})();
