// cdr1c telephony panel: plain JS, no build step, no external assets.
// Every piece of data reaches the page through textContent or a checked attribute, never
// through innerHTML: a caller name such as <img src=x onerror=...> shows as text.
"use strict";
(function () {
  var T = {
    ru: {
      title: "Телефония", logout: "Выйти", pbx_down: "АТС не подключена: состояния линий могут быть устаревшими",
      signin_hint: "Откройте панель из 1С или введите свой токен.", signin: "Войти",
      incoming: "Входящий звонок", no_call: "Звонков пока нет", call: "Позвонить", call_btn: "Позвонить",
      own_ext: "Мой номер", lines: "Коллеги", queue: "Ожидают в очереди", no_queue: "Никто не ждёт",
      ringing: "звонит", answered: "разговор", hangup: "завершён", client: "Клиент", manager: "Менеджер",
      unknown_client: "Номер не найден в 1С", last_calls: "Последние звонки", open_missed: "Пропущенные без ответа",
      call_id: "Звонок", open_1c: "Открыть в 1С", st_idle: "свободен", st_ringing: "звонит", st_talking: "разговор",
      st_hold: "удержание", st_unavailable: "недоступен", st_unknown: "неизвестно", act_call: "Позвонить",
      act_pickup: "Перехватить", act_listen: "Слушать", act_whisper: "Суфлировать", act_barge: "Вмешаться",
      act_take: "Взять", yours: "ваш клиент", stream_ok: "онлайн", stream_lost: "переподключение…",
      inbound: "входящий", outbound: "исходящий", internal: "внутренний", answered_o: "отвечен", missed: "пропущен",
      sent: "Отправлено", failed: "Ошибка", waiting: "ждёт", role_manager: "менеджер",
      role_supervisor: "руководитель", role_admin: "администратор", own_needed: "Укажите свой номер",
      close: "Закрыть", from_queue: "очередь"
    },
    en: {
      title: "Telephony", logout: "Sign out", pbx_down: "PBX not connected: line states may be stale",
      signin_hint: "Open the panel from 1C, or type your token.", signin: "Sign in",
      incoming: "Incoming call", no_call: "No calls yet", call: "Call", call_btn: "Call",
      own_ext: "My extension", lines: "Colleagues", queue: "Waiting in queues", no_queue: "Nobody is waiting",
      ringing: "ringing", answered: "talking", hangup: "ended", client: "Client", manager: "Manager",
      unknown_client: "Number not found in 1C", last_calls: "Last calls", open_missed: "Missed, not called back",
      call_id: "Call", open_1c: "Open in 1C", st_idle: "free", st_ringing: "ringing", st_talking: "talking",
      st_hold: "on hold", st_unavailable: "unavailable", st_unknown: "unknown", act_call: "Call",
      act_pickup: "Pick up", act_listen: "Listen", act_whisper: "Whisper", act_barge: "Barge in",
      act_take: "Take", yours: "your client", stream_ok: "online", stream_lost: "reconnecting…",
      inbound: "inbound", outbound: "outbound", internal: "internal", answered_o: "answered", missed: "missed",
      sent: "Sent", failed: "Error", waiting: "waiting", role_manager: "manager",
      role_supervisor: "supervisor", role_admin: "administrator", own_needed: "Enter your extension",
      close: "Close", from_queue: "queue"
    }
  };
  var S = { me: null, lang: "ru", lines: {}, waiting: [], card: null, recent: [], ami: true, cursor: null };

  function t(key) { return (T[S.lang] && T[S.lang][key]) || T.en[key] || key; }
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function button(label, action, data) {
    var b = el("button", "act act-" + action, t(label));
    b.type = "button";
    b.setAttribute("data-action", action);
    Object.keys(data || {}).forEach(function (k) { b.setAttribute("data-" + k, String(data[k])); });
    return b;
  }

  function api(method, path, body) {
    var opts = { method: method, credentials: "same-origin", headers: { "X-Cdr1c-Panel": "1" } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { var e = new Error(data.error || ("HTTP " + r.status)); e.status = r.status; throw e; }
        return data;
      });
    });
  }
  function notice(text, bad) {
    var n = $("notice");
    n.textContent = text;
    n.className = "notice" + (bad ? " bad" : "");
    n.hidden = false;
    clearTimeout(notice.timer);
    notice.timer = setTimeout(function () { n.hidden = true; }, 6000);
  }
  function act(promise) {
    return promise.then(function () { notice(t("sent")); }, function (e) { notice(t("failed") + ": " + e.message, true); });
  }
  function own() {
    if (S.me && S.me.extension) return S.me.extension;
    var v = ($("own").value || "").trim();
    if (v) { try { localStorage.setItem("cdr1c.own", v); } catch (e) { /* private mode */ } }
    return v;
  }
  function needOwn() { var o = own(); if (!o) notice(t("own_needed"), true); return o; }

  // --- language ----------------------------------------------------------------------------
  function applyLang() {
    document.documentElement.lang = S.lang;
    Array.prototype.forEach.call(document.querySelectorAll("[data-t]"), function (n) {
      n.textContent = t(n.getAttribute("data-t"));
    });
    $("lang").textContent = S.lang === "ru" ? "EN" : "RU";
    renderAll();
  }

  // --- the incoming call card --------------------------------------------------------------
  function showCall(ev) {
    if (!S.card || S.card.linkedid !== ev.linkedid) {
      S.card = { linkedid: ev.linkedid, number: ev.caller, caller_name: ev.caller_name || "",
                 client: ev.client ? { name: ev.client } : null, last_calls: [], open_missed: [] };
      fetchCard(ev.linkedid);
    }
    S.card.state = ev.type;
    if (ev.caller && !S.card.number) S.card.number = ev.caller;
    if (ev.caller) remember(ev.caller);
    renderCard();
  }
  function fetchCard(linkedid) {
    api("GET", "/v1/calls/" + encodeURIComponent(linkedid) + "/card").then(function (c) {
      if (!S.card || S.card.linkedid !== linkedid) return;
      ["number", "client", "last_calls", "open_missed"].forEach(function (k) { if (c[k]) S.card[k] = c[k]; });
      if (c.caller_name) S.card.caller_name = c.caller_name;
      renderCard();
    }, function () { /* the event's own fields stay */ });
  }
  function safeLink(href) {
    return typeof href === "string" && (/^e1cib\//.test(href) || /^https?:\/\//i.test(href)) ? href : null;
  }
  function when(iso) {
    var d = new Date(iso || "");
    if (isNaN(d.getTime())) return "";
    try {
      return d.toLocaleString(S.lang === "ru" ? "ru-RU" : "en-GB", { dateStyle: "short", timeStyle: "short" });
    } catch (e) { return String(iso).replace("T", " ").slice(0, 16); }
  }
  function history(title, rows, cls) {
    var box = el("div", "history " + cls);
    box.appendChild(el("h3", null, title + " (" + rows.length + ")"));
    var ul = el("ul", "list");
    rows.forEach(function (r) {
      var li = el("li");
      li.appendChild(el("span", "when", when(r.start)));
      li.appendChild(el("span", "dir", t(r.direction) + ", " + t(r.outcome === "answered" ? "answered_o" : "missed")));
      if (r.extension) li.appendChild(el("span", "ext", r.extension));
      ul.appendChild(li);
    });
    box.appendChild(ul);
    return box;
  }
  function renderCard() {
    var box = $("card"), c = S.card;
    clear(box);
    if (!c) { box.className = "card empty"; box.appendChild(el("span", null, t("no_call"))); return; }
    box.className = "card state-" + (c.state || "ringing");
    var head = el("div", "card-head");
    head.appendChild(el("span", "state", t(c.state || "ringing")));
    head.appendChild(el("span", "number", c.number || "—"));
    var close = button("close", "close-card");
    close.addEventListener("click", function () { S.card = null; renderCard(); });
    head.appendChild(close);
    box.appendChild(head);
    if (c.caller_name) box.appendChild(el("div", "caller-name", c.caller_name));
    var client = el("div", "client");
    if (c.client && c.client.name) {
      client.appendChild(el("span", "label", t("client") + ": "));
      var link = safeLink(c.client.link);
      var name = el(link ? "a" : "strong", "client-name", c.client.name);
      if (link) { name.setAttribute("href", link); name.title = t("open_1c"); }
      client.appendChild(name);
      if (c.client.manager) {
        client.appendChild(el("div", "manager", t("manager") + ": " + c.client.manager +
          (c.client.manager_extension ? " (" + c.client.manager_extension + ")" : "")));
      }
    } else {
      client.appendChild(el("span", "muted", t("unknown_client")));
    }
    box.appendChild(client);
    if (c.open_missed && c.open_missed.length) box.appendChild(history(t("open_missed"), c.open_missed, "missed"));
    if (c.last_calls && c.last_calls.length) box.appendChild(history(t("last_calls"), c.last_calls, "last"));
    box.appendChild(el("div", "call-id muted", t("call_id") + ": " + c.linkedid));
  }

  // --- click-to-call -----------------------------------------------------------------------
  function remember(number) {
    S.recent = [number].concat(S.recent.filter(function (n) { return n !== number; })).slice(0, 8);
    try { localStorage.setItem("cdr1c.recent", JSON.stringify(S.recent)); } catch (e) { /* ignore */ }
    renderRecent();
  }
  function dial(number) {
    var from = needOwn();
    if (!from || !number) return;
    remember(number);
    act(api("POST", "/v1/calls", { from: from, to: number }));
  }
  function renderRecent() {
    var ul = $("recent");
    clear(ul);
    S.recent.forEach(function (n) {
      var li = el("li");
      li.appendChild(el("span", "number", n));
      var b = button("act_call", "redial", { number: n });
      b.addEventListener("click", function () { dial(n); });
      li.appendChild(b);
      ul.appendChild(li);
    });
  }

  // --- colleagues' lines -------------------------------------------------------------------
  function kind(status) {
    status = Number(status);
    if (status === 0) return "idle";
    if (status === 4 || status < 0) return status === 4 ? "unavailable" : "unknown";
    if (status & 8) return "ringing";
    if (status & 16) return "hold";
    return "talking";
  }
  function lineAction(ext, action) {
    var me = needOwn();
    if (!me) return;
    if (action === "call") return act(api("POST", "/v1/calls", { from: me, to: ext }));
    return act(api("GET", "/v1/extensions/" + encodeURIComponent(ext) + "/call").then(function (c) {
      if (action === "pickup") {
        return api("POST", "/v1/calls/" + encodeURIComponent(c.linkedid) + "/intercept", { to: me, mode: "pickup" });
      }
      return api("POST", "/v1/spy", { supervisor: me, target: ext, mode: action });
    }, function (e) {
      if (action === "pickup") throw e;
      return api("POST", "/v1/spy", { supervisor: me, target: ext, mode: action });
    }));
  }
  function renderLines() {
    var ul = $("lines"), mine = own();
    clear(ul);
    Object.keys(S.lines).sort().forEach(function (ext) {
      var line = S.lines[ext], k = kind(line.status);
      var li = el("li", "line " + k + (S.ami ? "" : " stale"));
      li.setAttribute("data-ext", ext);
      li.setAttribute("data-state", k);
      li.appendChild(el("span", "led"));
      li.appendChild(el("span", "ext", ext));
      li.appendChild(el("span", "st", t("st_" + k)));
      var acts = el("span", "acts");
      var supervisor = S.me && S.me.role !== "manager";
      if (ext !== mine) {
        if (k === "idle") acts.appendChild(button("act_call", "call", { ext: ext }));
        if (k === "ringing") acts.appendChild(button("act_pickup", "pickup", { ext: ext }));
        if ((k === "talking" || k === "hold") && supervisor) {
          acts.appendChild(button("act_listen", "listen", { ext: ext }));
          acts.appendChild(button("act_whisper", "whisper", { ext: ext }));
          acts.appendChild(button("act_barge", "barge", { ext: ext }));
        }
      }
      li.appendChild(acts);
      ul.appendChild(li);
    });
  }
  function loadLines() {
    return api("GET", "/v1/extensions").then(function (r) {
      S.lines = {};
      r.extensions.forEach(function (x) { S.lines[x.exten] = x; });
      setAmi(r.ami && r.ami.connected);
      renderLines();
    });
  }
  function setAmi(ok) { S.ami = !!ok; $("pbx-down").hidden = S.ami; }

  // --- queue -------------------------------------------------------------------------------
  function renderQueue() {
    var ul = $("queue"), me = own();
    clear(ul);
    if (!S.waiting.length) { ul.appendChild(el("li", "muted", t("no_queue"))); return; }
    S.waiting.forEach(function (w) {
      var li = el("li", "waiter" + (w.manager_extension && w.manager_extension === me ? " mine" : ""));
      li.appendChild(el("span", "number", w.caller || "—"));
      if (w.caller_name) li.appendChild(el("span", "caller-name", w.caller_name));
      if (w.client) li.appendChild(el("span", "client-name", w.client));
      li.appendChild(el("span", "muted", t("from_queue") + " " + w.queue + " #" + w.position));
      if (w.manager_extension && w.manager_extension === me) li.appendChild(el("span", "badge", t("yours")));
      var b = button("act_take", "take", { call: w.linkedid });
      b.addEventListener("click", function () {
        var to = needOwn();
        if (to) act(api("POST", "/v1/calls/" + encodeURIComponent(w.linkedid) + "/intercept", { to: to, mode: "redirect" }));
      });
      li.appendChild(b);
      ul.appendChild(li);
    });
  }
  function loadQueue() {
    return api("GET", "/v1/queues").then(function (r) { S.waiting = r.waiting; renderQueue(); });
  }

  // --- live events: SSE, or long-poll where EventSource is missing ------------------------
  function onEvent(ev) {
    if (typeof ev.id === "number") S.cursor = ev.id;
    if (ev.type === "line") {
      S.lines[ev.exten] = ev;
      renderLines();
    } else if (ev.type === "queue") {
      loadQueue();
    } else if (ev.type === "ami") {
      setAmi(ev.connected);
      renderLines();
      if (ev.connected) loadLines();
    } else if (ev.type === "ringing" || ev.type === "answered" || ev.type === "hangup") {
      var me = own();
      if (!me || ev.extension === me) showCall(ev);
    } else if (/_result$/.test(ev.type) && ev.success === false) {
      notice(t("failed") + ": " + (ev.reason || ev.type), true);
    }
  }
  function setStream(ok) {
    var b = $("stream");
    b.textContent = t(ok ? "stream_ok" : "stream_lost");
    b.className = "badge " + (ok ? "ok" : "bad");
  }
  function stream() {
    var q = S.me && S.me.role === "admin" && own() ? "?extension=" + encodeURIComponent(own()) : "";
    if (window.EventSource) {
      var es = new EventSource("/v1/events" + q);
      ["ringing", "answered", "hangup", "line", "queue", "ami", "originate_result", "pickup_result", "spy_result"]
        .forEach(function (type) {
          es.addEventListener(type, function (m) { try { onEvent(JSON.parse(m.data)); } catch (e) { /* bad frame */ } });
        });
      es.onopen = function () {  // the first time and after every reconnect (data-opens counts them)
        var b = $("stream");
        b.setAttribute("data-opens", String(Number(b.getAttribute("data-opens") || 0) + 1));
        setStream(true); loadLines(); loadQueue();
      };
      es.onerror = function () { setStream(false); };  // EventSource reconnects by itself
      return;
    }
    (function poll() {
      var url = "/v1/events/poll?wait=20" + (S.cursor !== null ? "&after=" + S.cursor : "");
      api("GET", url).then(function (r) { setStream(true); r.events.forEach(onEvent); S.cursor = r.cursor; poll(); },
        function () { setStream(false); setTimeout(poll, 3000); });
    })();
  }

  function renderAll() {
    if (!S.me) return;
    var me = $("me");
    me.textContent = (S.me.name ? S.me.name + ", " : "") + t("role_" + S.me.role) + (S.me.extension ? " " + S.me.extension : "");
    renderCard(); renderRecent(); renderLines(); renderQueue();
  }

  function start() {
    try { S.recent = JSON.parse(localStorage.getItem("cdr1c.recent") || "[]").filter(function (n) { return typeof n === "string"; }); } catch (e) { S.recent = []; }
    try { S.lang = localStorage.getItem("cdr1c.lang") || ""; } catch (e) { S.lang = ""; }
    $("lang").addEventListener("click", function () {
      S.lang = S.lang === "ru" ? "en" : "ru";
      try { localStorage.setItem("cdr1c.lang", S.lang); } catch (e) { /* ignore */ }
      applyLang();
    });
    $("dial").addEventListener("submit", function (e) { e.preventDefault(); dial(($("number").value || "").trim()); });
    $("lines").addEventListener("click", function (e) {
      var b = e.target.closest ? e.target.closest("button[data-action]") : null;
      if (b && b.getAttribute("data-ext")) lineAction(b.getAttribute("data-ext"), b.getAttribute("data-action"));
    });
    $("logout").addEventListener("click", function () {
      api("POST", "/v1/panel/logout").then(function () { location.reload(); });
    });
    api("GET", "/v1/me").then(function (me) {
      S.me = me;
      S.lang = S.lang || me.lang || "ru";
      setAmi(me.ami && me.ami.connected);
      $("panel").hidden = false;
      $("logout").hidden = false;
      if (!me.extension) {
        $("own-box").hidden = false;
        try { $("own").value = localStorage.getItem("cdr1c.own") || ""; } catch (e) { /* ignore */ }
      }
      applyLang();
      loadLines(); loadQueue(); stream();
      setInterval(function () { loadLines().catch(function () { setAmi(false); }); }, 10000);
    }, function () {
      S.lang = S.lang || "ru";
      applyLang();
      $("signin").hidden = false;
    });
  }
  document.addEventListener("DOMContentLoaded", start);
})();
